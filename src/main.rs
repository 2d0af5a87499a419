fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(breachline::cli::run())
}
