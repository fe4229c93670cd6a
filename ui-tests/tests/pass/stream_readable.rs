//! `ReadableStream<T>` as a parameter and a result, of strings, bytes and a serde type; the
//! typed stub takes and returns it.

use capnweb::{rpc_target, Bytes, ReadableStream, RpcError};

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
pub struct Point {
    x: f64,
    y: f64,
}

pub struct Api;

#[rpc_target]
impl Api {
    pub fn lines(&self, n: u32) -> ReadableStream<String> {
        (0..n).map(|i| format!("line {i}")).collect()
    }

    pub async fn count(&self, chunks: ReadableStream<Bytes>) -> Result<u32, RpcError> {
        let chunks = chunks.collect_all().await.map_err(|e| e.to_rpc_error())?;
        Ok(chunks.iter().map(|c| c.len() as u32).sum())
    }

    pub async fn points(&self, points: ReadableStream<Point>) -> ReadableStream<Point> {
        points
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let api = ApiStub::new(Api);
        let lines = api.lines(2).await.unwrap().collect_all().await.unwrap();
        assert_eq!(lines, ["line 0", "line 1"]);
        let chunks: ReadableStream<Bytes> = [Bytes::from(vec![1u8; 3])].into_iter().collect();
        assert_eq!(api.count(chunks).await.unwrap(), 3);
        let points: ReadableStream<Point> = [Point { x: 1.0, y: 2.0 }].into_iter().collect();
        let back = api.points(points).await.unwrap().collect_all().await.unwrap();
        assert_eq!(back, [Point { x: 1.0, y: 2.0 }]);
    });
}
