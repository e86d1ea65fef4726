//! The merchant app's routes and the one place that maps each to its screen.
//! The staff console's are in `staff_app.rs`.

use std::future::Future;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::components::Layout;
use crate::load::{Load, UseLoad, use_load};
use crate::pages;
use crate::state::Settings;

#[derive(Debug, Clone, PartialEq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    /// Where a stall's printed QR code points: compact codes (`/S/`, printed
    /// now) and legacy ones (`/s/`, printed before) land on the same screen.
    #[at("/S/:code")]
    Scan { code: String },
    #[at("/s/:code")]
    ScanLegacy { code: String },
    #[at("/login")]
    Login,
    #[at("/profile")]
    Profile,
    #[at("/authorize")]
    Authorize,
    #[at("/decision")]
    Decision,
    /// Where the merchant's application stands with the banks.
    #[at("/application")]
    Application,
    #[at("/me/consents")]
    Consents,
    #[not_found]
    #[at("/404")]
    NotFound,
}

fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <pages::home::Home /> },
        Route::Scan { code } | Route::ScanLegacy { code } => {
            html! { <pages::scan::Scan {code} /> }
        }
        Route::Login => html! { <pages::login::Login /> },
        Route::Profile => html! { <pages::profile::Profile /> },
        Route::Authorize => html! { <pages::authorize::Authorize /> },
        Route::Decision => html! { <pages::decision::Decision /> },
        Route::Application => html! { <pages::application::Application /> },
        Route::Consents => html! { <pages::consents::Consents /> },
        Route::NotFound => html! { <pages::not_found::NotFound /> },
    }
}

/// [`use_load`] for a screen behind the merchant's login: a 401 (no session,
/// or it ended) goes to the login screen instead of showing an error.
#[hook]
pub fn use_session_load<D, T, F, Fut>(deps: D, fetch: F) -> UseLoad<T>
where
    D: PartialEq + Clone + 'static,
    T: 'static,
    F: FnOnce(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let load = use_load(deps, fetch);
    use_login_when(matches!(&*load, Load::Failed(e) if e.is_logged_out()));
    load
}

#[hook]
fn use_login_when(logged_out: bool) {
    let navigator = use_navigator();
    use_effect_with(logged_out, move |&out| {
        if let (true, Some(nav)) = (out, navigator) {
            nav.replace(&Route::Login);
        }
    });
}

#[component]
pub fn App() -> Html {
    let settings = use_reducer(|| {
        let s = Settings::load();
        s.apply_to_document();
        s
    });
    html! {
        <ContextProvider<UseReducerHandle<Settings>> context={settings}>
            <BrowserRouter>
                <Layout>
                    <Switch<Route> render={switch} />
                </Layout>
            </BrowserRouter>
        </ContextProvider<UseReducerHandle<Settings>>>
    }
}
