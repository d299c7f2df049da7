use std::process::ExitCode;

use clap::Parser;
use user_service::adapters::hash_process;
use user_service::cli::{Cli, run};

fn main() -> ExitCode {
    // The password hashing child (`hash_process`) starts no runtime and reads no configuration.
    if let Some(code) = hash_process::child_main() {
        return code;
    }
    actix_web::rt::System::new().block_on(async {
        match run(Cli::parse()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("user-service: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
