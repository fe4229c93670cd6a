//! Sync methods run as the call arrives; async ones (and `-> impl Future + Send`) are awaited.
//! A stub is `Clone + Debug + Send + Sync` and a promise of one pipelines.

use std::future::Future;
use std::sync::Mutex;

use capnweb::{rpc_target, RpcPromise, TypedStub};

#[derive(Default)]
pub struct Log {
    lines: Mutex<Vec<String>>,
}

#[rpc_target]
impl Log {
    pub fn push(&self, line: String) -> usize {
        let mut lines = self.lines.lock().unwrap();
        lines.push(line);
        lines.len()
    }

    pub async fn push_later(&self, line: String) -> usize {
        tokio::task::yield_now().await;
        self.push(line)
    }

    pub fn deferred(&self, n: u32) -> impl Future<Output = u32> + Send + 'static {
        async move { n * 2 }
    }

    pub fn child(&self) -> LogStub {
        LogStub::new(Log::default())
    }

    pub async fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

fn assert_stub<T: TypedStub + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned>() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_stub::<LogStub>();
    let log = LogStub::new(Log::default());
    assert_eq!(log.push("a").await.unwrap(), 1);
    assert_eq!(log.push_later("b").await.unwrap(), 2);
    assert_eq!(log.deferred(21).await.unwrap(), 42);
    let child: RpcPromise<LogStub> = log.child();
    assert_eq!(child.push("c").await.unwrap(), 1);
    assert_eq!(log.lines().await.unwrap(), ["a", "b"]);
    let _ = format!("{log:?}");
}
