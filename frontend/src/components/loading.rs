use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct LoadingProps {
    /// Stable element id for browser tests.
    #[prop_or_default]
    pub id: Option<AttrValue>,
    pub label: AttrValue,
}

/// A spinner with words: on a slow link people need to know something is
/// happening, and screen readers announce `role=status`.
#[component]
pub fn Loading(props: &LoadingProps) -> Html {
    html! {
        <div id={props.id.clone()} class="loading" role="status" aria-live="polite">
            <div class="spinner" aria-hidden="true"></div>
            <span>{ props.label.clone() }</span>
        </div>
    }
}

/// Inside a button that is waiting for the server.
#[component]
pub fn ButtonSpinner() -> Html {
    html! { <span class="spinner" aria-hidden="true"></span> }
}

#[derive(Properties, PartialEq)]
pub struct SkeletonProps {
    #[prop_or(3)]
    pub lines: usize,
}

/// Grey bars where content will appear, so the layout does not jump.
#[component]
pub fn Skeleton(props: &SkeletonProps) -> Html {
    html! {
        <div aria-hidden="true">
            { for (0..props.lines).map(|i| {
                let width = ["w90", "w70", "w50"][i % 3];
                html! { <div class={classes!("skeleton", width)}></div> }
            }) }
        </div>
    }
}
