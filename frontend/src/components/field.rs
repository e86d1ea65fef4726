use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TextFieldProps {
    /// Element id of the `<input>`; browser tests select on it.
    pub id: AttrValue,
    pub label: AttrValue,
    pub value: AttrValue,
    pub oninput: Callback<String>,
    /// Shown under the input and marks it invalid for assistive tech.
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    #[prop_or_default]
    pub inputmode: Option<AttrValue>,
    #[prop_or_default]
    pub autocomplete: Option<AttrValue>,
    #[prop_or_default]
    pub maxlength: Option<AttrValue>,
    #[prop_or(AttrValue::Static("text"))]
    pub input_type: AttrValue,
    #[prop_or_default]
    pub disabled: bool,
    /// A button placed on the same line (e.g. "send code").
    #[prop_or_default]
    pub children: Html,
}

/// A labelled input whose error sits right under it, where the eye already is.
#[component]
pub fn TextField(props: &TextFieldProps) -> Html {
    let oninput = {
        let cb = props.oninput.clone();
        Callback::from(move |e: InputEvent| {
            cb.emit(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let error_id = format!("{}-error", props.id);
    let hint_id = format!("{}-hint", props.id);
    let described = match (&props.error, &props.hint) {
        (Some(_), _) => Some(error_id.clone()),
        (None, Some(_)) => Some(hint_id.clone()),
        _ => None,
    };
    let class = classes!("field", props.error.is_some().then_some("invalid"));
    html! {
        <div class={class}>
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            if let Some(hint) = &props.hint {
                <p class="hint" id={hint_id}>{ hint.clone() }</p>
            }
            <div class="inline">
                <input
                    id={props.id.clone()}
                    name={props.id.clone()}
                    type={props.input_type.clone()}
                    value={props.value.clone()}
                    inputmode={props.inputmode.clone()}
                    autocomplete={props.autocomplete.clone()}
                    maxlength={props.maxlength.clone()}
                    disabled={props.disabled}
                    aria-invalid={props.error.is_some().then_some("true")}
                    aria-describedby={described}
                    {oninput}
                />
                { props.children.clone() }
            </div>
            if let Some(err) = &props.error {
                <p class="error" id={error_id} role="alert">{ err.clone() }</p>
            }
        </div>
    }
}
