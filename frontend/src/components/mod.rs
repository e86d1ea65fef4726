//! Small building blocks shared by the screens.

mod alert;
mod decision_card;
mod field;
mod layout;
mod loading;

pub use alert::{ErrorAlert, Notice};
pub use decision_card::DecisionCard;
pub use field::TextField;
pub use layout::{Layout, use_page_title};
pub use loading::{ButtonSpinner, Loading, Skeleton};
