//! `patchflow`: one binary for every service, the host agent and the
//! operator commands. Thin: parse the command line, load the one typed
//! configuration, start logging, dispatch.

mod bundle;
mod cli;
mod commands;
mod config;
mod decisions;
mod demo;
mod exception;
mod feed;
mod local_nats;
mod plan;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`patchflow cvss … | head`), as Unix tools do.
    sigpipe::reset();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, `outer: inner: …`, skipping a cause
/// whose text the line already holds (many errors print their source in
/// their own message).
fn chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("unknown time zone \"Mars/Base\"")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("timezone: {0}")]
    struct Outer(#[source] Inner);

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let e = anyhow::Error::new(Outer(Inner)).context("invalid [schedule]");
        assert_eq!(
            chain(&e),
            "invalid [schedule]: timezone: unknown time zone \"Mars/Base\""
        );
        let plain = anyhow::anyhow!("a").context("b");
        assert_eq!(chain(&plain), "b: a");
    }
}
