//! Small building blocks shared by the screens.

mod alert;
mod field;
mod layout;
mod loading;

pub use alert::{ErrorAlert, Notice};
pub use field::TextField;
pub use layout::Layout;
pub use loading::{ButtonSpinner, Loading, Skeleton};
