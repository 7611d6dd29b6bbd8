//! `make token`'s minter: a token the local stack accepts, on stdout.
//!
//! mint-token --secret-file PATH --issuer ISS --audience AUD --tenant T
//!            [--subject SUB] [--permission P]... [--ttl-secs N]
//!
//! The HS256 secret is read from a file, never from the command line.
//! Without `--permission`, the token holds none (for trying a 403).

use secrets_testkit::tokens::Minter;

const USAGE: &str = "usage: mint-token --secret-file PATH --issuer ISS --audience AUD --tenant T \
                     [--subject SUB] [--permission P]... [--ttl-secs N]";

#[derive(Default)]
struct Arguments {
    secret_file: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    tenant: Option<String>,
    subject: Option<String>,
    permissions: Vec<String>,
    ttl_secs: Option<u64>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Arguments, String> {
    let mut parsed = Arguments::default();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--secret-file" => parsed.secret_file = Some(value),
            "--issuer" => parsed.issuer = Some(value),
            "--audience" => parsed.audience = Some(value),
            "--tenant" => parsed.tenant = Some(value),
            "--subject" => parsed.subject = Some(value),
            "--permission" => parsed.permissions.push(value),
            "--ttl-secs" => {
                let secs = value
                    .parse()
                    .map_err(|_| format!("--ttl-secs must be a whole number, not {value}"))?;
                parsed.ttl_secs = Some(secs);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

fn run() -> Result<String, String> {
    let args = parse(std::env::args().skip(1))?;
    let required =
        |value: Option<String>, flag: &str| value.ok_or_else(|| format!("{flag} is required"));
    let secret_file = required(args.secret_file, "--secret-file")?;
    let secret = std::fs::read_to_string(&secret_file)
        .map_err(|e| format!("cannot read {secret_file}: {e}"))?;
    let mut minter = Minter::hs256(
        secret.trim().as_bytes(),
        &required(args.issuer, "--issuer")?,
        &required(args.audience, "--audience")?,
    )
    .ttl_secs(args.ttl_secs.unwrap_or(3600));
    if let Some(subject) = &args.subject {
        minter = minter.subject(subject);
    }
    let permissions: Vec<&str> = args.permissions.iter().map(String::as_str).collect();
    Ok(minter.token(&required(args.tenant, "--tenant")?, &permissions))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(token) => {
            println!("{token}");
            std::process::ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("mint-token: {problem}\n{USAGE}");
            std::process::ExitCode::from(2)
        }
    }
}
