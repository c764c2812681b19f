// Runs on the primary: adds the members a scale-up created and keeps the application user.
const hosts = process.env.MEMBERS.split(",");

const present = rs.conf().members.map((member) => member.host);
for (const host of hosts) {
  if (!present.includes(host)) {
    rs.add({ host });
    print(`added member ${host}`);
  }
}
const extra = present.filter((host) => !hosts.includes(host));
if (extra.length > 0) {
  // Removing members is left to the operator: done in the wrong order it loses the majority.
  print(`members not in the StatefulSet any more: ${extra.join(", ")}; see docs/operations.md (scaling down)`);
}

const admin = db.getSiblingDB("admin");
const user = process.env.APP_USERNAME;
const roles = [
  { role: "readWriteAnyDatabase", db: "admin" },
  { role: "clusterMonitor", db: "admin" },
];
if (admin.getUser(user) === null) {
  admin.createUser({ user, pwd: process.env.APP_PASSWORD, roles });
  print(`created user ${user}`);
} else {
  admin.updateUser(user, { pwd: process.env.APP_PASSWORD, roles });
  print(`updated user ${user}`);
}
