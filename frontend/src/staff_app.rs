//! The staff console's routes. The server answers these paths with the staff
//! page (`staff.html`), so they must stay in step with `backend/src/web.rs`.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::Layout;
use crate::pages;
use crate::state::Settings;

#[derive(Debug, Clone, PartialEq, Routable)]
pub enum StaffRoute {
    #[at("/manager")]
    Manager,
    /// The batch sheet of stall code cards (A4, eight a page).
    #[at("/manager/print")]
    ManagerPrint,
    /// Not built yet (issue 10): says so.
    #[at("/bank")]
    Bank,
    /// The operator's screens are tabs of the console at `/manager`.
    #[at("/ops")]
    Ops,
    #[not_found]
    #[at("/manager/404")]
    NotFound,
}

fn switch(route: StaffRoute) -> Html {
    match route {
        StaffRoute::Manager => html! { <pages::manager::Manager /> },
        StaffRoute::ManagerPrint => html! { <pages::manager::print::PrintSheet /> },
        StaffRoute::Bank => html! { <pages::bank::Bank /> },
        StaffRoute::Ops => html! { <ToConsole /> },
        StaffRoute::NotFound => html! { <pages::not_found::NotFound /> },
    }
}

/// `/ops` → `/manager`, where an operator lands on the markets-and-accounts
/// tab. A replace, not a push, so "back" does not bounce here again.
#[component]
fn ToConsole() -> Html {
    let navigator = use_navigator();
    use_effect_with((), move |()| {
        if let Some(nav) = navigator {
            nav.replace(&StaffRoute::Manager);
        }
    });
    html! {}
}

#[component]
pub fn StaffApp() -> Html {
    let settings = use_reducer(|| {
        let s = Settings::load();
        s.apply_to_document();
        s
    });
    html! {
        <ContextProvider<UseReducerHandle<Settings>> context={settings}>
            <BrowserRouter>
                <Layout full_page_home=true>
                    <Switch<StaffRoute> render={switch} />
                </Layout>
            </BrowserRouter>
        </ContextProvider<UseReducerHandle<Settings>>>
    }
}
