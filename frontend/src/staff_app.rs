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
    #[at("/bank")]
    Bank,
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
        StaffRoute::Bank => html! { <pages::staff::Bank /> },
        StaffRoute::Ops => html! { <pages::staff::Ops /> },
        StaffRoute::NotFound => html! { <pages::not_found::NotFound /> },
    }
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
