// Initiates the replica set on its first member, once. Member _ids follow the StatefulSet ordinals.
const NOT_YET_INITIALIZED = 94;
const name = process.env.REPLICA_SET;
const hosts = process.env.MEMBERS.split(",");

let initiated = true;
try {
  db.adminCommand({ replSetGetStatus: 1 });
} catch (error) {
  if (error.code !== NOT_YET_INITIALIZED) throw error;
  initiated = false;
}
if (initiated) {
  print(`replica set ${name} is initiated`);
} else {
  rs.initiate({ _id: name, members: hosts.map((host, index) => ({ _id: index, host })) });
  print(`initiated replica set ${name} with ${hosts.length} member(s)`);
}
