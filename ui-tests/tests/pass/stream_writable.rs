//! `WritableStream<T>` as a result (the caller writes into it) and as a parameter (the method
//! writes into the caller's); the typed stub takes and returns it.

use std::sync::Mutex;

use capnweb::{rpc_target, ReadableStream, RpcError, WritableStream};

#[derive(Default)]
pub struct Api {
    upload: Mutex<Option<ReadableStream<String>>>,
}

#[rpc_target]
impl Api {
    pub fn upload(&self) -> WritableStream<String> {
        let (writer, reader) = capnweb::pipe();
        *self.upload.lock().unwrap() = Some(reader);
        writer
    }

    pub async fn uploaded(&self) -> Result<Vec<String>, RpcError> {
        let reader = self.upload.lock().unwrap().take().unwrap();
        reader.collect_all().await.map_err(|e| e.to_rpc_error())
    }

    pub async fn fill(&self, out: WritableStream<u32>, n: u32) -> Result<(), RpcError> {
        let mut out = out;
        for i in 0..n {
            out.write(i).await.map_err(|e| e.to_rpc_error())?;
        }
        out.close().await.map_err(|e| e.to_rpc_error())
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let api = ApiStub::new(Api::default());
        let mut upload = api.upload().await.unwrap();
        upload.write("a".to_owned()).await.unwrap();
        let (closed, uploaded) = tokio::join!(upload.close(), async { api.uploaded().await });
        closed.unwrap();
        assert_eq!(uploaded.unwrap(), ["a"]);
        let (writer, reader) = capnweb::pipe::<u32>();
        let (filled, numbers) = tokio::join!(async { api.fill(writer, 3).await }, reader.collect_all());
        filled.unwrap();
        assert_eq!(numbers.unwrap(), [0, 1, 2]);
    });
}
