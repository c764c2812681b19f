// Initiates the replica set on its first member, once. The set starts with that member alone: MongoDB
// refuses an initial configuration naming members that hold data, and every member's entrypoint created
// the root user. reconcile.js then adds the others, which replace their data by an initial sync.
const NOT_YET_INITIALIZED = 94;
const name = process.env.REPLICA_SET;
const first = process.env.MEMBERS.split(",")[0];

function replicaSetStatus() {
  try {
    return db.adminCommand({ replSetGetStatus: 1 });
  } catch (error) {
    return { ok: 0, code: error.code, errmsg: error.message };
  }
}

const status = replicaSetStatus();
if (status.ok === 1) {
  print(`replica set ${status.set} is initiated`);
} else if (status.code === NOT_YET_INITIALIZED) {
  rs.initiate({ _id: name, members: [{ _id: 0, host: first }] });
  print(`initiated replica set ${name} on ${first}`);
} else {
  throw new Error(`replSetGetStatus failed: ${status.errmsg}`);
}
