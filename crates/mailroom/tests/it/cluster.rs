//! Cluster mode (README "Running a cluster"): several real `mailroom serve`
//! processes on one real PostgreSQL share the grants of the real testbed. Each grant is
//! synced by exactly one live node; a killed node's grants are taken over once its lease
//! runs out; a paused node that lost its leases writes nothing for those grants and then
//! rejoins; a rolling restart under load loses and repeats nothing; the nodes survive a
//! PostgreSQL restart; SQLite refuses a second `serve`.
//!
//! Mail is delivered through the testbed's SMTP port and seen as `message.created` at a
//! real webhook receiver; "announced once" counts distinct notification ids per message
//! (a repeated POST of one notification id is a webhook retry, not a second
//! announcement). IMAP sessions are counted at Dovecot: those open now (`doveadm who`),
//! and the logins in its log, which also show sessions opened and closed at once.
//!
//! `MAILROOM_TEST_KEEP_CLUSTER_LOGS=1` keeps the nodes' logs, and
//! `MAILROOM_TEST_CLUSTER_LOG=<filter>` sets their log filter.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::support::{
    self,
    cluster_nodes::{
        Cluster, DovecotLog, PrivatePostgres, Schema, call, cluster_env, deliver, imap_sessions,
        one_at_a_time, postgres_url, reset_users,
    },
    mailroom_command, repo_root, spawn_announced, testbed_env,
    webhook_receiver::Receiver,
};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The lease the nodes run with: short, so that a takeover fits the suite's budget.
const LEASE_SECS: u64 = 5;
// Testbed users: user101–user200, which no other test or suite takes
// (ARCHITECTURE.md, "Testbed users"; bench/cluster.py starts at user201).
const SIXTY: std::ops::RangeInclusive<u32> = 101..=160;
const PAUSE_USERS: std::ops::RangeInclusive<u32> = 161..=172;
/// Enough grants that a restarted node (a new node id) almost surely has a share by
/// rendezvous hashing: with 24 grants over three nodes, none falls to one node with
/// probability (2/3)^24 ≈ 6e-5 (with 12 it is 0.8 % per restart, and it happened).
const ROLLING_USERS: std::ops::RangeInclusive<u32> = 173..=196;
const RESTART_PG_USERS: std::ops::RangeInclusive<u32> = 197..=200;
/// IMAP connections one grant may hold (`max_connections_per_grant`'s default).
const GRANT_CONNECTION_BUDGET: usize = 3;

fn email(user: u32) -> String {
    format!("user{user}@example.test")
}

/// Polls `check` every 200 ms until it returns Ok; at the deadline, panics with the
/// last Err it gave.
async fn until<T>(what: &str, within: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + within;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; last seen: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An application made through the CLI, an IMAP connector, and a `message.created`
/// webhook to `receiver`, made through different nodes. Returns the API key.
async fn application(cluster: &Cluster, receiver: &Receiver) -> String {
    let output = cluster.cli(&["app", "create", "--name", "cluster", "--json"]);
    assert!(output.status.success(), "app create: {output:?}");
    let app: Value = serde_json::from_slice(&output.stdout).expect("app create prints JSON");
    let key = app["api_key"].as_str().expect("api_key").to_owned();
    let http = reqwest::Client::new();
    let first = &cluster.nodes[0].base_url;
    let last = &cluster.nodes[cluster.nodes.len() - 1].base_url;
    let (status, body) = call(
        &http,
        first,
        &key,
        "POST",
        "/v3/connectors",
        Some(json!({"provider": "imap"})),
    )
    .await
    .expect("connector");
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        &http,
        last,
        &key,
        "POST",
        "/v3/webhooks",
        Some(json!({"trigger_types": ["message.created"], "webhook_url": receiver.url})),
    )
    .await
    .expect("webhook");
    assert!(status < 300, "{body}");
    key
}

/// Custom-auth grants for `users`, created through the nodes in turn, eight at a time.
/// Returns user → grant id.
async fn connect_grants(
    cluster: &Cluster,
    key: &str,
    users: impl IntoIterator<Item = u32>,
) -> BTreeMap<u32, String> {
    use futures::StreamExt;
    let http = reqwest::Client::new();
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.base_url.clone()).collect();
    let testbed = support::Testbed::get();
    futures::stream::iter(users.into_iter().enumerate())
        .map(|(i, user)| {
            let url = urls[i % urls.len()].clone();
            let http = http.clone();
            let body = json!({"provider": "imap", "settings": testbed.settings(user)});
            async move {
                let (status, reply) =
                    call(&http, &url, key, "POST", "/v3/connect/custom", Some(body))
                        .await
                        .unwrap_or_else(|e| panic!("connect user{user} through {url}: {e}"));
                assert_eq!(status, 201, "connect user{user} through {url}: {reply}");
                (
                    user,
                    reply["data"]["id"].as_str().expect("grant id").to_owned(),
                )
            }
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Waits until every grant has finished its first pass and is owned by one of `nodes`
/// (by node id); returns grant id → owner. Also checks what "exactly one owner" means
/// in the operator's views: one row per grant in `grants status`, and the per-node
/// `grants` of `mailroom nodes` adding up to the number of grants.
async fn wait_owned_and_running(
    cluster: &Cluster,
    grants: &BTreeMap<u32, String>,
    nodes: &[String],
    within: Duration,
) -> BTreeMap<String, String> {
    let wanted: BTreeSet<&String> = grants.values().collect();
    let owners = until(
        "every grant running and owned by a live node",
        within,
        || {
            let rows = cluster.grants_status();
            let mut owners = BTreeMap::new();
            let mut waiting = Vec::new();
            for row in &rows {
                let grant = row["grant_id"].as_str().unwrap_or_default().to_owned();
                if !wanted.contains(&grant) {
                    continue;
                }
                let owner = row["owner_node"].as_str().map(str::to_owned);
                match owner {
                    Some(owner) if nodes.contains(&owner) && row["sync_state"] == "running" => {
                        let earlier = owners.insert(grant.clone(), owner);
                        assert!(earlier.is_none(), "grant {grant} listed twice: {rows:?}");
                    }
                    _ => waiting.push(format!(
                        "{} {} owner {}",
                        row["email"], row["sync_state"], row["owner_node"]
                    )),
                }
            }
            if owners.len() == wanted.len() {
                Ok(owners)
            } else {
                Err(format!(
                    "{} of {} ready; e.g. {:?}",
                    owners.len(),
                    wanted.len(),
                    &waiting[..waiting.len().min(5)]
                ))
            }
        },
    )
    .await;
    // The registry agrees: the leases it counts per node are the grants' owners.
    until("mailroom nodes to count the same leases", within, || {
        let listed = cluster.nodes_json();
        let mut per_node: HashMap<String, usize> = HashMap::new();
        for owner in owners.values() {
            *per_node.entry(owner.clone()).or_default() += 1;
        }
        let counted: HashMap<String, usize> = listed
            .iter()
            .filter(|n| n["state"] == "live")
            .filter_map(|n| {
                let id = n["node_id"].as_str()?.to_owned();
                let grants = usize::try_from(n["grants"].as_u64()?).ok()?;
                (grants > 0 || per_node.contains_key(&id)).then_some((id, grants))
            })
            .collect();
        if counted == per_node {
            Ok(())
        } else {
            Err(format!("nodes: {listed:?}; owners per node: {per_node:?}"))
        }
    })
    .await;
    owners
}

/// Waits until Dovecot holds exactly one IMAP session for each of `users` (an idle
/// grant holds one connection: README "Reading mail"), and asserts that none ever holds
/// more than the per-grant budget.
async fn wait_one_session_each(users: &[u32], within: Duration) {
    until("one IMAP session per grant at Dovecot", within, || {
        let sessions = imap_sessions();
        let counts: BTreeMap<u32, usize> = users
            .iter()
            .map(|&u| (u, sessions.get(&email(u)).copied().unwrap_or(0)))
            .collect();
        let over: Vec<_> = counts
            .iter()
            .filter(|(_, c)| **c > GRANT_CONNECTION_BUDGET)
            .collect();
        assert!(
            over.is_empty(),
            "users with more IMAP sessions than one grant's budget ({GRANT_CONNECTION_BUDGET}): {over:?}"
        );
        if counts.values().all(|&c| c == 1) {
            Ok(())
        } else {
            let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
            for c in counts.values() {
                *histogram.entry(*c).or_default() += 1;
            }
            Err(format!(
                "sessions per user → number of users: {histogram:?}; not one: {:?}",
                counts
                    .iter()
                    .filter(|(_, c)| **c != 1)
                    .take(10)
                    .collect::<Vec<_>>()
            ))
        }
    })
    .await;
}

/// No user logged in more than `most` times since `log`'s mark: a grant's sync logs in
/// once per owner and a few times per body backlog, and a loop that opens and closes
/// sessions (never seen by `doveadm who`) shows here.
fn assert_logins_at_most(log: &DovecotLog, users: &[u32], most: usize) {
    let logins = log.imap_logins();
    let over: BTreeMap<u32, usize> = users
        .iter()
        .filter_map(|&u| {
            let n = logins.get(&email(u)).copied().unwrap_or(0);
            (n > most).then_some((u, n))
        })
        .collect();
    assert!(
        over.is_empty(),
        "IMAP logins per user over {most}: {over:?}"
    );
}

/// The `message.created` notifications received, per subject: the distinct
/// notification ids and the number of POSTs.
fn announcements(receiver: &Receiver) -> HashMap<String, (BTreeSet<String>, usize)> {
    let mut seen: HashMap<String, (BTreeSet<String>, usize)> = HashMap::new();
    for post in receiver.of_type("message.created") {
        let subject = post.body["data"]["object"]["subject"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let entry = seen.entry(subject).or_default();
        entry
            .0
            .insert(post.body["id"].as_str().unwrap_or_default().to_owned());
        entry.1 += 1;
    }
    seen
}

/// Waits until every subject has been announced (deadline `within`).
async fn wait_announced(receiver: &Receiver, subjects: &[String], within: Duration) {
    until("message.created for every message", within, || {
        let seen = announcements(receiver);
        let missing: Vec<&String> = subjects.iter().filter(|s| !seen.contains_key(*s)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} of {} not announced, e.g. {:?}",
                missing.len(),
                subjects.len(),
                &missing[..missing.len().min(5)]
            ))
        }
    })
    .await;
}

/// Every subject was announced exactly once, and no message (grant, message id) has two
/// notifications. Returns how many POSTs repeated a notification id (webhook retries).
fn assert_announced_once(receiver: &Receiver, subjects: &[String]) -> usize {
    let seen = announcements(receiver);
    let twice: Vec<_> = subjects
        .iter()
        .filter_map(|s| {
            let (ids, _) = seen.get(s)?;
            (ids.len() != 1).then(|| (s.clone(), ids.len()))
        })
        .collect();
    assert!(twice.is_empty(), "announced more than once: {twice:?}");
    let missing: Vec<_> = subjects.iter().filter(|s| !seen.contains_key(*s)).collect();
    assert!(missing.is_empty(), "never announced: {missing:?}");
    let mut per_message: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
    for post in receiver.of_type("message.created") {
        let object = &post.body["data"]["object"];
        per_message
            .entry((
                object["grant_id"].as_str().unwrap_or_default().to_owned(),
                object["id"].as_str().unwrap_or_default().to_owned(),
            ))
            .or_default()
            .insert(post.body["id"].as_str().unwrap_or_default().to_owned());
    }
    let doubled: Vec<_> = per_message
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    assert!(
        doubled.is_empty(),
        "messages with more than one notification: {doubled:?}"
    );
    seen.values().map(|(ids, posts)| posts - ids.len()).sum()
}

/// Delivers one message to each of `users`, subject `<label> user<N>`; returns the subjects.
fn deliver_round(label: &str, users: impl IntoIterator<Item = u32>) -> Vec<String> {
    let messages: Vec<(String, String)> = users
        .into_iter()
        .map(|u| (email(u), format!("{label} user{u}")))
        .collect();
    deliver(&messages);
    messages.into_iter().map(|(_, s)| s).collect()
}

/// The users whose grants `node_id` owns.
fn users_owned_by(
    grants: &BTreeMap<u32, String>,
    owners: &BTreeMap<String, String>,
    node_id: &str,
) -> Vec<u32> {
    grants
        .iter()
        .filter(|(_, g)| owners.get(*g).is_some_and(|o| o == node_id))
        .map(|(u, _)| *u)
        .collect()
}

/// The node (by index) owning the most grants.
fn busiest(cluster: &Cluster, owners: &BTreeMap<String, String>) -> usize {
    let mut per_node: HashMap<&String, usize> = HashMap::new();
    for owner in owners.values() {
        *per_node.entry(owner).or_default() += 1;
    }
    let (id, _) = per_node
        .into_iter()
        .max_by_key(|(id, count)| (*count, (*id).clone()))
        .expect("some owner");
    cluster.index_of(id).expect("an owner that is one of ours")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_sixty_grants_and_take_over_a_killed_one() {
    let _one = one_at_a_time().await;
    support::Testbed::get();
    let users: Vec<u32> = SIXTY.collect();
    reset_users(users.iter().copied());
    let logins = DovecotLog::mark();
    let schema = Schema::create(&postgres_url(), "mr_cluster");
    let receiver = Receiver::start().await;
    let mut cluster = Cluster::start(3, cluster_env(&schema.url, LEASE_SECS));
    let ids: Vec<String> = cluster.nodes.iter().map(|n| n.node_id.clone()).collect();
    let key = application(&cluster, &receiver).await;
    let grants = connect_grants(&cluster, &key, users.iter().copied()).await;

    // Every grant has exactly one owner, and each node has a share.
    let owners = wait_owned_and_running(&cluster, &grants, &ids, Duration::from_secs(120)).await;
    for id in &ids {
        let owned = owners.values().filter(|o| *o == id).count();
        assert!(
            owned >= 5,
            "node {id} owns {owned} of 60 grants: {:?}",
            cluster.grants_per_owner()
        );
    }
    // One node's worth of IMAP connections per grant, counted by Dovecot.
    wait_one_session_each(&users, Duration::from_secs(60)).await;
    // New mail for every grant is announced.
    let mut subjects = deliver_round("cluster first", users.iter().copied());
    wait_announced(&receiver, &subjects, Duration::from_secs(60)).await;

    // kill -9 the busiest node (about a third of the grants); mail for its grants
    // arrives while nobody syncs them.
    let victim = busiest(&cluster, &owners);
    let victim_id = cluster.nodes[victim].node_id.clone();
    let orphaned = users_owned_by(&grants, &owners, &victim_id);
    cluster.nodes[victim].kill9();
    let killed_at = Instant::now();
    let meanwhile = deliver_round("cluster meanwhile", orphaned.iter().copied());
    subjects.extend(meanwhile.iter().cloned());
    let survivors: Vec<String> = ids.iter().filter(|i| **i != victim_id).cloned().collect();
    // Within the lease and one pass (generously: the lease, a pass, and the load of
    // twenty grants starting at once on two cores).
    let takeover = Duration::from_secs(LEASE_SECS + 45);
    wait_announced(&receiver, &meanwhile, takeover).await;
    let owners_after =
        wait_owned_and_running(&cluster, &grants, &survivors, Duration::from_secs(30)).await;
    eprintln!(
        "{} grants of the killed node announced their mail {:.1} s after the kill",
        orphaned.len(),
        killed_at.elapsed().as_secs_f64()
    );
    for user in &orphaned {
        assert_ne!(owners_after[&grants[user]], victim_id);
    }
    until("the killed node not live", Duration::from_secs(30), || {
        let listed = cluster.nodes_json();
        match listed.iter().find(|n| n["node_id"] == victim_id.as_str()) {
            Some(n) if n["state"] == "live" => Err(format!("{listed:?}")),
            _ => Ok(()),
        }
    })
    .await;
    // The killed node's sessions are gone (the kernel closed them); the survivors hold
    // one per grant.
    wait_one_session_each(&users, Duration::from_secs(60)).await;

    // Everyone still hears of new mail, once.
    let last = deliver_round("cluster after", users.iter().copied());
    subjects.extend(last.iter().cloned());
    wait_announced(&receiver, &last, Duration::from_secs(60)).await;
    let retries = assert_announced_once(&receiver, &subjects);
    eprintln!("webhook retries of one notification: {retries}");
    assert_logins_at_most(&logins, &users, 10);
    drop(cluster);
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_writes_nothing_for_grants_it_lost_and_rejoins() {
    let _one = one_at_a_time().await;
    support::Testbed::get();
    let users: Vec<u32> = PAUSE_USERS.collect();
    reset_users(users.iter().copied());
    let logins = DovecotLog::mark();
    let schema = Schema::create(&postgres_url(), "mr_cluster");
    let receiver = Receiver::start().await;
    let cluster = Cluster::start(3, cluster_env(&schema.url, LEASE_SECS));
    let ids: Vec<String> = cluster.nodes.iter().map(|n| n.node_id.clone()).collect();
    let key = application(&cluster, &receiver).await;
    let grants = connect_grants(&cluster, &key, users.iter().copied()).await;
    let owners = wait_owned_and_running(&cluster, &grants, &ids, Duration::from_secs(90)).await;
    let mut subjects = deliver_round("pause first", users.iter().copied());
    wait_announced(&receiver, &subjects, Duration::from_secs(60)).await;

    let victim = busiest(&cluster, &owners);
    let victim_id = cluster.nodes[victim].node_id.clone();
    let victim_pid = u64::from(cluster.nodes[victim].pid());
    let lost = users_owned_by(&grants, &owners, &victim_id);
    let lost_grants: BTreeSet<&String> = lost.iter().map(|u| &grants[u]).collect();
    cluster.nodes[victim].sigstop();
    eprintln!(
        "paused {} ({victim_id}), owner of {} of {} grants",
        cluster.nodes[victim].name,
        lost.len(),
        grants.len()
    );
    // Mail the frozen node's IDLE sessions are told of but that it cannot act on yet.
    let frozen = deliver_round("pause while frozen", lost.iter().copied());
    subjects.extend(frozen.iter().cloned());
    let others: Vec<String> = ids.iter().filter(|i| **i != victim_id).cloned().collect();
    until(
        "the paused node's grants taken over",
        Duration::from_secs(LEASE_SECS + 30),
        || {
            let now = cluster.owners();
            let pending: Vec<_> = lost_grants
                .iter()
                .filter(|g| {
                    !now.get(**g)
                        .is_some_and(|o| o.as_ref().is_some_and(|o| others.contains(o)))
                })
                .collect();
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("not yet taken: {pending:?}"))
            }
        },
    )
    .await;
    wait_announced(&receiver, &frozen, Duration::from_secs(45)).await;
    let taken = deliver_round("pause after takeover", lost.iter().copied());
    subjects.extend(taken.iter().cloned());
    wait_announced(&receiver, &taken, Duration::from_secs(30)).await;

    // Resume it: until it is live again, the grants it lost keep their new owners. The
    // owners are read before the registry, so a node not live in the later read was not
    // live in the earlier one either.
    cluster.nodes[victim].sigcont();
    let live_again = until(
        "the resumed node live again",
        Duration::from_secs(60),
        || {
            let owners_now = cluster.owners();
            let listed = cluster.nodes_json();
            let mine: Vec<&Value> = listed
                .iter()
                .filter(|n| n["pid"].as_u64() == Some(victim_pid))
                .collect();
            let mine_ids: BTreeSet<String> = mine
                .iter()
                .filter_map(|n| n["node_id"].as_str().map(str::to_owned))
                .chain([victim_id.clone()])
                .collect();
            let live = mine.iter().any(|n| n["state"] == "live");
            if !live {
                let reclaimed: Vec<_> = lost_grants
                    .iter()
                    .filter(|g| {
                        owners_now
                            .get(**g)
                            .is_some_and(|o| o.as_ref().is_some_and(|o| mine_ids.contains(o)))
                    })
                    .collect();
                assert!(
                    reclaimed.is_empty(),
                    "the resumed node, not live, owns grants it lost: {reclaimed:?}; nodes: {listed:?}"
                );
                return Err(format!("{listed:?}"));
            }
            Ok(mine_ids)
        },
    )
    .await;
    // Nothing it held while frozen came out twice.
    assert_announced_once(&receiver, &subjects);
    // It gets grants again (a joining node takes its share within a minute).
    until(
        "the rejoined node owning grants",
        Duration::from_secs(75),
        || {
            let per_owner = cluster.grants_per_owner();
            if per_owner.keys().any(|o| live_again.contains(o)) {
                Ok(())
            } else {
                Err(format!("{per_owner:?}"))
            }
        },
    )
    .await;
    // And every grant is still synced once: one session each, new mail announced once.
    wait_one_session_each(&users, Duration::from_secs(60)).await;
    let last = deliver_round("pause last", users.iter().copied());
    subjects.extend(last.iter().cloned());
    wait_announced(&receiver, &last, Duration::from_secs(60)).await;
    assert_announced_once(&receiver, &subjects);
    assert_logins_at_most(&logins, &users, 10);
    drop(cluster);
    drop(schema);
}

/// What the API writer saw during the rolling restart.
#[derive(Default)]
struct WriteLog {
    ok: Vec<(String, String)>,
    retried_503: usize,
    retried_down: usize,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_and_repeats_nothing() {
    let _one = one_at_a_time().await;
    support::Testbed::get();
    let users: Vec<u32> = ROLLING_USERS.collect();
    reset_users(users.iter().copied());
    let schema = Schema::create(&postgres_url(), "mr_cluster");
    let receiver = Arc::new(Receiver::start().await);
    let mut cluster = Cluster::start(3, cluster_env(&schema.url, LEASE_SECS));
    let ids: Vec<String> = cluster.nodes.iter().map(|n| n.node_id.clone()).collect();
    let key = application(&cluster, &receiver).await;
    let grants = connect_grants(&cluster, &key, users.iter().copied()).await;
    wait_owned_and_running(&cluster, &grants, &ids, Duration::from_secs(90)).await;

    let stop = Arc::new(AtomicBool::new(false));
    // The node (index + 1) being restarted, 0 for none: only it may refuse or be down.
    let restarting = Arc::new(AtomicUsize::new(0));
    let urls = Arc::new(Mutex::new(
        cluster
            .nodes
            .iter()
            .map(|n| n.base_url.clone())
            .collect::<Vec<_>>(),
    ));

    // A steady stream of mail: one message every 100 ms, to the grants in turn.
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let mail = {
        let (stop, sent, users) = (stop.clone(), sent.clone(), users.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let user = users[n % users.len()];
                let subject = format!("rolling {n} user{user}");
                let message = vec![(email(user), subject.clone())];
                tokio::task::spawn_blocking(move || deliver(&message))
                    .await
                    .expect("deliver");
                sent.lock().unwrap().push(subject);
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // A steady stream of API writes: each announced message marked read through the
    // nodes in turn; a 503 or a refused connection is retried on the next node.
    let writes = Arc::new(Mutex::new(WriteLog::default()));
    let writer = {
        let (stop, receiver, urls, writes, restarting, key) = (
            stop.clone(),
            receiver.clone(),
            urls.clone(),
            writes.clone(),
            restarting.clone(),
            key.clone(),
        );
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut done: BTreeSet<String> = BTreeSet::new();
            let mut turn = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let next = receiver
                    .of_type("message.created")
                    .into_iter()
                    .find_map(|p| {
                        let object = &p.body["data"]["object"];
                        let id = object["id"].as_str()?.to_owned();
                        let grant = object["grant_id"].as_str()?.to_owned();
                        (!done.contains(&id)).then_some((grant, id))
                    });
                let Some((grant, id)) = next else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                done.insert(id.clone());
                let path = format!("/v3/grants/{grant}/messages/{id}");
                let mut attempts = 0;
                loop {
                    let node = turn % 3;
                    turn += 1;
                    attempts += 1;
                    let url = urls.lock().unwrap()[node].clone();
                    let result = call(
                        &http,
                        &url,
                        &key,
                        "PUT",
                        &path,
                        Some(json!({"unread": false})),
                    )
                    .await;
                    let restarting_now = restarting.load(Ordering::SeqCst) == node + 1;
                    let mut log = writes.lock().unwrap();
                    match result {
                        Ok((200, _)) => {
                            log.ok.push((grant.clone(), id.clone()));
                            break;
                        }
                        Ok((503, _)) if restarting_now => log.retried_503 += 1,
                        Err(_) if restarting_now => log.retried_down += 1,
                        Ok((status, body)) => {
                            log.failures
                                .push(format!("PUT {path} via node{}: {status} {body}", node + 1));
                            break;
                        }
                        Err(e) => {
                            log.failures
                                .push(format!("PUT {path} via node{}: {e}", node + 1));
                            break;
                        }
                    }
                    if attempts > 6 {
                        log.failures.push(format!("PUT {path}: no node took it"));
                        break;
                    }
                }
            }
        })
    };

    // Let the load run through a few deliveries before the first restart.
    until("the load under way", Duration::from_secs(30), || {
        let ok = writes.lock().unwrap().ok.len();
        if ok >= 3 {
            Ok(())
        } else {
            Err(format!("{ok} writes done"))
        }
    })
    .await;
    for index in 0..cluster.nodes.len() {
        restarting.store(index + 1, Ordering::SeqCst);
        let status = cluster.nodes[index].terminate(Duration::from_secs(30));
        assert!(
            status.success(),
            "{} exited with {status} on SIGTERM",
            cluster.nodes[index].name
        );
        cluster.nodes[index].start_again();
        urls.lock().unwrap()[index] = cluster.nodes[index].base_url.clone();
        restarting.store(0, Ordering::SeqCst);
        let node_id = cluster.nodes[index].node_id.clone();
        // Back in the cluster: live, and holding grants again before the next goes.
        until(
            "the restarted node live and owning grants",
            Duration::from_secs(75),
            || {
                let per_owner = cluster.grants_per_owner();
                let live = cluster.live_node_ids();
                if live.contains(&node_id) && per_owner.contains_key(&node_id) {
                    Ok(())
                } else {
                    Err(format!("live {live:?}, grants per owner {per_owner:?}"))
                }
            },
        )
        .await;
    }
    // The load goes on a while with every node new.
    let marked = writes.lock().unwrap().ok.len();
    until(
        "more writes after the restarts",
        Duration::from_secs(30),
        || {
            let ok = writes.lock().unwrap().ok.len();
            if ok >= marked + 5 {
                Ok(())
            } else {
                Err(format!("{ok} writes done"))
            }
        },
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    mail.await.expect("mail task");
    writer.await.expect("writer task");

    let subjects = sent.lock().unwrap().clone();
    wait_announced(&receiver, &subjects, Duration::from_secs(60)).await;
    let retries = assert_announced_once(&receiver, &subjects);
    let log = std::mem::take(&mut *writes.lock().unwrap());
    eprintln!(
        "rolling restart: {} messages, {} marked read, {} retried after a 503, {} after a refused connection, {retries} webhook retries",
        subjects.len(),
        log.ok.len(),
        log.retried_503,
        log.retried_down
    );
    assert!(
        log.failures.is_empty(),
        "API writes failed: {:?}",
        log.failures
    );
    // What the writes said they did, every node now shows.
    let ids_now: Vec<String> = cluster.nodes.iter().map(|n| n.node_id.clone()).collect();
    wait_owned_and_running(&cluster, &grants, &ids_now, Duration::from_secs(60)).await;
    let http = reqwest::Client::new();
    for (i, (grant, id)) in log.ok.iter().enumerate() {
        let url = &cluster.nodes[i % cluster.nodes.len()].base_url;
        let (status, body) = call(
            &http,
            url,
            &key,
            "GET",
            &format!("/v3/grants/{grant}/messages/{id}"),
            None,
        )
        .await
        .expect("GET message");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["unread"], false, "{body}");
    }
    drop(cluster);
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_carry_on_after_postgres_restarts_mid_sync() {
    let _one = one_at_a_time().await;
    support::Testbed::get();
    let users: Vec<u32> = RESTART_PG_USERS.collect();
    reset_users(users.iter().copied());
    // Two mailboxes big enough that their first sync is under way when PostgreSQL goes.
    const SEEDED: u64 = 3000;
    let seeded = &users[..2];
    for user in seeded {
        let output = std::process::Command::new(repo_root().join("testbed/seed-mailbox"))
            .args([
                &format!("user{user}"),
                "--count",
                &SEEDED.to_string(),
                "--replace",
            ])
            .output()
            .expect("run testbed/seed-mailbox");
        assert!(output.status.success(), "seed-mailbox: {output:?}");
    }
    let logins = DovecotLog::mark();
    let postgres = PrivatePostgres::start();
    let receiver = Receiver::start().await;
    let cluster = Cluster::start(3, cluster_env(&postgres.url, LEASE_SECS));
    let key = application(&cluster, &receiver).await;
    let grants = connect_grants(&cluster, &key, users.iter().copied()).await;
    let seeded_grants: BTreeSet<&String> = seeded.iter().map(|u| &grants[u]).collect();
    let before = until(
        "a seeded grant's sync under way",
        Duration::from_secs(60),
        || {
            let rows = cluster.grants_status();
            let under_way = rows.iter().find(|r| {
                r["grant_id"]
                    .as_str()
                    .is_some_and(|g| seeded_grants.contains(&g.to_owned()))
                    && r["messages_synced"].as_u64().unwrap_or(0) > 0
            });
            under_way.cloned().ok_or_else(|| format!("{rows:?}"))
        },
    )
    .await;
    postgres.restart();
    eprintln!(
        "PostgreSQL restarted while {} had {} of {} messages",
        before["email"], before["messages_synced"], before["messages_total"]
    );

    let ids: Vec<String> = cluster.nodes.iter().map(|n| n.node_id.clone()).collect();
    // Every node is still up, live in the registry, and the grants are synced to the end.
    for node in &cluster.nodes {
        let pid = node.pid();
        assert!(
            std::fs::metadata(format!("/proc/{pid}")).is_ok(),
            "{} exited when PostgreSQL restarted",
            node.name
        );
    }
    until("every node live again", Duration::from_secs(60), || {
        let live = cluster.live_node_ids();
        if ids.iter().all(|id| live.contains(id)) {
            Ok(())
        } else {
            Err(format!("{:?}", cluster.nodes_json()))
        }
    })
    .await;
    // Mail for the grants whose first pass is over is announced at once; the seeded
    // ones (whose mail already there is never news) finish indexing, then hear of theirs.
    let unseeded = &users[seeded.len()..];
    let mut subjects = deliver_round("after the database restart", unseeded.iter().copied());
    wait_announced(&receiver, &subjects, Duration::from_secs(60)).await;
    wait_owned_and_running(&cluster, &grants, &ids, Duration::from_secs(120)).await;
    until(
        "the seeded mailboxes indexed",
        Duration::from_secs(120),
        || {
            let rows = cluster.grants_status();
            let short: Vec<_> = rows
                .iter()
                .filter(|r| {
                    r["grant_id"]
                        .as_str()
                        .is_some_and(|g| seeded_grants.contains(&g.to_owned()))
                        && r["messages_synced"].as_u64().unwrap_or(0) < SEEDED
                })
                .collect();
            if short.is_empty() {
                Ok(())
            } else {
                Err(format!("{short:?}"))
            }
        },
    )
    .await;
    let last = deliver_round("after the database restart, all", users.iter().copied());
    subjects.extend(last.iter().cloned());
    wait_announced(&receiver, &last, Duration::from_secs(60)).await;
    assert_announced_once(&receiver, &subjects);
    assert_logins_at_most(&logins, &users, 30);
    let mut cluster = cluster;
    for node in &mut cluster.nodes {
        assert!(node.is_running(), "{} is gone", node.name);
    }
    drop(cluster);
    drop(postgres);
}

/// Waits (deadline 30 s) for a command expected to fail at start, and returns its
/// output.
fn expect_refused(mut command: std::process::Command) -> std::process::Output {
    let child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn a second serve");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(output) => output.expect("wait for the second serve"),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("a second serve on the same SQLite database kept running");
        }
    }
}

#[tokio::test]
async fn sqlite_refuses_a_second_serve_on_the_same_database() {
    // SQLite whatever MAILROOM_TEST_DATABASE says: the data dir's own database file.
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut command = mailroom_command(data_dir.path(), &testbed_env());
    command.args(["serve", "--listen", "127.0.0.1:0"]);
    let (_first, url) = spawn_announced(command);
    // The same data dir.
    let output = expect_refused(mailroom_command(data_dir.path(), &testbed_env()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{output:?}");
    assert!(
        stderr.contains("another mailroom serve"),
        "the refusal says why: {stderr}"
    );
    // Another data dir, the same database file (and the key it was sealed with).
    let key = std::fs::read_to_string(data_dir.path().join("secret.key")).expect("key");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let mut env = testbed_env();
    env.push((
        "MAILROOM_DATABASE_URL".into(),
        format!("sqlite://{}", data_dir.path().join("mailroom.db").display()),
    ));
    env.push(("MAILROOM_SECRET_KEY".into(), key.trim().to_owned()));
    let output = expect_refused(mailroom_command(elsewhere.path(), &env));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{output:?}");
    assert!(
        stderr.contains("another mailroom serve"),
        "the refusal says why: {stderr}"
    );
    // The first is unharmed.
    let health = reqwest::get(format!("{url}/healthz"))
        .await
        .expect("GET /healthz");
    assert_eq!(health.status().as_u16(), 200);
}
