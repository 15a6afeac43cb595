//! Serves the web console with the in-memory `FakeConsole`, for screenshots and
//! browser tests before the appliance is wired:
//!
//! ```text
//! cargo run -p web --example console_demo -- 8099
//! # open http://127.0.0.1:8099/ and sign in as admin / "correct horse battery staple"
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

// The tests' in-memory console; only part of it is used here.
#[path = "../tests/support/fake.rs"]
#[allow(dead_code)]
mod fake;

use fake::{DEMO_PASSWORD, DEMO_USER, FakeConsole};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8099);
    let console = FakeConsole::demo();
    console.add_scan_with_findings(1000);
    let opts = web::WebOptions {
        // Plain HTTP on loopback: `Secure` cookies would not be sent back.
        secure_cookies: false,
        max_upload: 64 << 20,
        ..web::WebOptions::default()
    };
    let app = web::router(Arc::new(console), opts);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!(
        "console demo on http://{} (user {DEMO_USER}, password \"{DEMO_PASSWORD}\")",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
