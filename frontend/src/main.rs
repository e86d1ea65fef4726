//! The merchant app: scan, log in, consent, decision, application.

fn main() {
    frontend::start::<frontend::app::App>();
}
