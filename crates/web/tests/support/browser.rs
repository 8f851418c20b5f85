//! Headless Chromium through chromedriver (both installed by `.ci/run`), for the browser
//! tests: start the driver, open a browser, sign in through the real form, wait, screenshot.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

/// A running chromedriver, stopped when dropped.
pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start chromedriver on a free loopback port; its URL.
pub(crate) fn start_chromedriver() -> (Driver, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (Debian: chromium-driver; .ci/run installs it)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), format!("http://127.0.0.1:{port}"))
}

/// A headless Chromium at 1280×900 with a throwaway profile (kept alive by the returned
/// directory).
pub(crate) async fn chromium(driver_url: &str) -> (WebDriver, tempfile::TempDir) {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary("/usr/bin/chromium").unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ] {
        caps.add_arg(arg).unwrap();
    }
    let profile = tempfile::tempdir().unwrap();
    caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
        .unwrap();
    (WebDriver::new(driver_url, caps).await.unwrap(), profile)
}

/// Wait up to `secs` seconds for `f` to hold.
pub(crate) async fn wait_for<F, Fut>(what: &str, secs: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where screenshots go: `target/e2e-screenshots/`.
pub(crate) fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn shot(driver: &WebDriver, name: &str) {
    driver
        .screenshot(&shots().join(format!("{name}.png")))
        .await
        .unwrap();
}

/// Sign in through the form as `username` (password [`super::PASSWORD`]) and wait for the
/// role's home page at `home`.
pub(crate) async fn sign_in(driver: &WebDriver, base: &str, username: &str, home: &str) {
    driver.goto(format!("{base}/sign-in")).await.unwrap();
    driver
        .find(By::Css("input#username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    driver
        .find(By::Css("input#password"))
        .await
        .unwrap()
        .send_keys(super::PASSWORD)
        .await
        .unwrap();
    driver
        .find(By::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the home page after sign-in", 10, || async {
        driver.current_url().await.is_ok_and(|u| u.path() == home)
    })
    .await;
}

/// The text of the first element matching `css` (empty when there is none).
pub(crate) async fn text(driver: &WebDriver, css: &str) -> String {
    match driver.find(By::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}
