use std::process::ExitCode;

fn main() -> ExitCode {
    sso_gateway::cli::main()
}
