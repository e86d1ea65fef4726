use yew::prelude::*;

use crate::api::ApiError;
use crate::state::use_lang;

#[derive(Properties, PartialEq)]
pub struct ErrorAlertProps {
    pub error: ApiError,
    #[prop_or_default]
    pub id: Option<AttrValue>,
    /// Shown as a "retry" button when the failure may be temporary.
    #[prop_or_default]
    pub on_retry: Option<Callback<()>>,
}

/// An API failure in the reader's language, with a retry where it can help.
#[component]
pub fn ErrorAlert(props: &ErrorAlertProps) -> Html {
    let lang = use_lang();
    let retry = props
        .on_retry
        .as_ref()
        .filter(|_| !props.error.is_permanent())
        .map(|cb| {
            let cb = cb.clone();
            html! {
                <button type="button" class="btn secondary block" id="retry"
                        onclick={Callback::from(move |_| cb.emit(()))}>
                    { lang.pick("重试", "Try again") }
                </button>
            }
        });
    html! {
        <div id={props.id.clone()} class="alert error" role="alert">
            <p>{ props.error.message(lang) }</p>
            { for retry }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct NoticeProps {
    #[prop_or_default]
    pub id: Option<AttrValue>,
    #[prop_or_default]
    pub children: Html,
}

/// A plain success / information box.
#[component]
pub fn Notice(props: &NoticeProps) -> Html {
    html! {
        <div id={props.id.clone()} class="alert ok" role="status">{ props.children.clone() }</div>
    }
}
