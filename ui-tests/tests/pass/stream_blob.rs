//! `Blob` as a parameter and a result; the typed stub takes and returns it.

use capnweb::{rpc_target, Blob, RpcError};

pub struct Api;

#[rpc_target]
impl Api {
    pub fn make(&self, text: String) -> Blob {
        Blob::new("text/plain", text)
    }

    pub async fn describe(&self, blob: Blob) -> Result<String, RpcError> {
        let mime = blob.mime_type().to_owned();
        let text = blob.text().await.map_err(|e| e.to_rpc_error())?;
        Ok(format!("{mime}: {text}"))
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let api = ApiStub::new(Api);
        let blob = api.make("hi").await.unwrap();
        assert_eq!(blob.mime_type(), "text/plain");
        assert_eq!(api.describe(blob).await.unwrap(), "text/plain: hi");
    });
}
