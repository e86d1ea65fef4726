//! The staff console: market managers, bank officers, the credit office.

fn main() {
    frontend::start::<frontend::staff_app::StaffApp>();
}
