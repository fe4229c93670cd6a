//! A to-do list shared between users, in the browser: the page and its API on one `Server`.
//!
//! ```text
//! cargo run --example web                  # http://127.0.0.1:8080/
//! cargo run --example web -- 127.0.0.1:0   # any free port
//! ```
//!
//! The first line it prints is `listening on http://HOST:PORT/`; open that in two browser
//! windows, log in as two people, and watch each other's changes arrive. It serves until
//! Ctrl-C. The page's script, `static/app.js`, is bundled from `ts/app.ts` (see there).
//!
//! It serves the API over WebTransport too (a free UDP port, a development certificate made
//! at start): open `http://HOST:PORT/?transport=webtransport` to call it that way. The page
//! reads the URL and the certificate's hash from `/webtransport.json`; the second line printed
//! says them.

use capnweb::Server;
use capnweb_examples::web;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let server = Server::bind(addr.as_str()).await?;
    let local = server.local_addr();
    let (server, webtransport) = web::with_webtransport(server)?;
    println!("listening on http://{local}/");
    println!(
        "WebTransport at {} (certificate SHA-256 {}): open http://{local}/?transport=webtransport",
        webtransport.url, webtransport.certificate_hash
    );
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    server
        .serve_with_shutdown(
            web::routes(web::board::Board::new(), Some(webtransport)),
            ctrl_c,
        )
        .await?;
    Ok(())
}
