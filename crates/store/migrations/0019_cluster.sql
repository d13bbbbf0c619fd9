-- Cluster mode (README.md, "Running a cluster"): the `mailroom serve` processes on this
-- database, and which of them syncs each grant.

-- A node is live while its heartbeat (database clock, Unix milliseconds) is younger
-- than the lease time. `leaving` is set when it shuts down, before it hands its
-- grants over.
CREATE TABLE cluster_nodes (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    leaving INTEGER NOT NULL DEFAULT 0
);

-- Which node syncs a grant. The node's heartbeat renews all of its leases at once; a
-- lease whose node is not live can be taken. `epoch` grows with every change of hands
-- and is never reset (a released lease keeps its row with no node), so a write
-- checked against (node, epoch) cannot pass for a later holder's.
CREATE TABLE grant_leases (
    grant_id TEXT PRIMARY KEY REFERENCES grants(id) ON DELETE CASCADE,
    node_id TEXT,
    epoch BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);

CREATE INDEX grant_leases_by_node ON grant_leases (node_id);
