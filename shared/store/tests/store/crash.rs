//! Crash safety of the embedded store: a child process commits transactions until it is killed
//! with SIGKILL; the store then reopens with every committed transaction whole and none partial.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use store::embedded::EmbeddedStore;
use store::{Item, ItemStore, Key, ManualClock, Query, WriteAction};

use crate::support::NOW;

/// Items per transaction: a batch is whole when all of them are there.
const BATCH: usize = 20;

fn batch_actions(n: u64) -> Vec<WriteAction> {
    (0..BATCH)
        .map(|i| {
            let mut item = Item::with_key(&Key {
                pk: format!("B#{n:08}#"),
                sk: format!("{i:02}"),
            });
            item.set("payload", "p".repeat(2_000));
            item.set("batch", i64::try_from(n).unwrap());
            WriteAction::put(item)
        })
        .collect()
}

/// Writes batches forever (until killed), printing each committed batch number.
async fn write_batches(path: &Path, start: u64, stop_after: Option<u64>) {
    let store = EmbeddedStore::open(path, Arc::new(ManualClock::at(NOW))).unwrap();
    let mut n = start;
    loop {
        store.transact_write(batch_actions(n)).await.unwrap();
        println!("committed {n}");
        n += 1;
        if stop_after.is_some_and(|s| n >= s) {
            return;
        }
    }
}

/// Counts the whole batches; fails on a partial one.
async fn whole_batches(path: &Path) -> u64 {
    let store = EmbeddedStore::open(path, Arc::new(ManualClock::at(NOW))).unwrap();
    let mut n = 0;
    loop {
        let page = store
            .query(&Query::partition(format!("B#{n:08}#"), 100))
            .await
            .unwrap();
        match page.items.len() {
            0 => break,
            BATCH => n += 1,
            partial => panic!("batch {n} is partial: {partial} of {BATCH} items"),
        }
    }
    // Nothing beyond the first missing batch either.
    for later in n..n + 5 {
        assert!(
            store
                .query(&Query::partition(format!("B#{later:08}#"), 100))
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }
    n
}

/// The child's side: runs only when the parent test starts this binary with `OMS_CRASH_DB` set;
/// run directly, it checks a short clean run instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_writer() {
    match std::env::var("OMS_CRASH_DB") {
        Ok(path) => {
            let start = std::env::var("OMS_CRASH_START")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            write_batches(Path::new(&path), start, None).await;
        }
        Err(_) => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("clean.redb");
            write_batches(&path, 0, Some(3)).await;
            assert_eq!(whole_batches(&path).await, 3);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_committed_transactions_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let mut whole = 0;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash::crash_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OMS_CRASH_DB", &path)
            .env("OMS_CRASH_START", whole.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut reported = None;
        // Let it commit a while (a few dozen batches, more each round), then kill it mid-write.
        let target = whole + 25 * (round + 1);
        for line in lines.by_ref() {
            if let Some(n) = line
                .unwrap()
                .strip_prefix("committed ")
                .and_then(|n| n.parse::<u64>().ok())
            {
                reported = Some(n);
                if n >= target {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let reported = reported.expect("the child never committed");
        whole = whole_batches(&path).await;
        // Every batch the child reported committed is there, whole (it may have committed one more
        // after its last line was read).
        assert!(
            whole > reported,
            "round {round}: {whole} whole batches, child reported {reported}"
        );
    }
}
