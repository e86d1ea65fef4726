//! The `backend` command line: `serve` (the default), `migrate`,
//! `seed-demo`, and the maintenance commands later issues add. Each command
//! is a few lines that call into the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::router;
use crate::config::Config;
use crate::db::{self, Backend};
use crate::state::AppState;

#[derive(Parser)]
#[command(name = "backend", version, about = "Market Code (市场码) server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the API and the SPA (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Add the demo market, stalls, manager and banks where missing.
    SeedDemo,
    /// Print a stall's signed code URL (what its QR code holds), or the
    /// market-wide one.
    StallUrl {
        /// The stall number, e.g. `A-01`.
        #[arg(
            required_unless_present = "market_wide",
            conflicts_with = "market_wide"
        )]
        stall: Option<String>,
        /// The market's name; default: the first market.
        #[arg(long)]
        market: Option<String>,
        /// The market's code for individual businesses without a stall.
        #[arg(long)]
        market_wide: bool,
    },
    /// Import a credit-data export folder (one `<source>.csv` per source):
    /// all rows or none, every bad row reported.
    ImportCreditData { dir: std::path::PathBuf },
    /// Write a synthetic population of Yixing merchants as an export folder.
    GenerateCreditData {
        #[arg(long, default_value_t = crate::credit::generate::DEFAULT_COUNT)]
        count: usize,
        #[arg(long, default_value_t = crate::credit::generate::DEFAULT_SEED)]
        seed: u64,
        /// Default: the fixed date of the reference population.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        out_dir: std::path::PathBuf,
    },
    /// Create a staff account: the first operator (who then creates markets
    /// and managers in the console), or a manager of a named market. The
    /// password is read from `MARKET_CODE_NEW_PASSWORD` or, when unset, from
    /// the first line of standard input, so it is not left in shell history.
    CreateUser {
        username: String,
        #[arg(long, default_value = "operator", value_parser = ["operator", "manager"])]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// The market's name (managers only).
        #[arg(long)]
        market: Option<String>,
    },
    /// Give a staff account a new password (read from
    /// `MARKET_CODE_NEW_PASSWORD` or, when unset, standard input); its login
    /// throttle is forgotten.
    SetPassword { username: String },
    /// List the keys: stall-code signing keys by fingerprint (current,
    /// retired, revoked) and field keys by id, with what each still holds.
    Keys,
    /// Revoke a retired stall-code key by its fingerprint (`backend keys`):
    /// codes it signed are refused from now on. Reprint first.
    RevokeKey { fingerprint: String },
    /// Re-encrypt every stored ID number (and every other encrypted field)
    /// under the current field key, so retired field keys can be dropped.
    RotateKeys,
    /// Recompute a stored decision and say whether it is identical.
    Replay { decision_id: String },
    /// Development only: make a new business with credit facts as of today,
    /// its registered operator, and that person in the development
    /// real-name roster; print who to type, as JSON (it holds an ID number:
    /// a synthetic one). Refused unless the real-name check is the roster.
    #[command(hide = true)]
    DevBusiness {
        /// clean, random, enforcement, dishonesty, tax-d, rent-arrears-<months>
        #[arg(long, default_value = "clean")]
        archetype: String,
        /// The operator's mobile number (default: a random one).
        #[arg(long)]
        mobile: Option<String>,
        /// The new business's operator is the one registered for this USCC.
        #[arg(long)]
        same_operator_as: Option<String>,
        /// A county rent export for the business, at this market…
        #[arg(long, requires = "rent_stall")]
        rent_market: Option<String>,
        /// …and stall.
        #[arg(long, requires = "rent_market")]
        rent_stall: Option<String>,
    },
    /// Run a policy over a population: approval rate, grades, reasons.
    Backtest {
        #[arg(long)]
        policy: Option<std::path::PathBuf>,
        #[arg(long)]
        data: Option<std::path::PathBuf>,
    },
    /// Create or drop a PostgreSQL database (used by `cargo xtask test` for
    /// its throwaway databases).
    #[command(hide = true)]
    PgDatabase {
        #[arg(value_parser = ["create", "drop"])]
        action: String,
        /// `postgres://…/<name>`; the server's `postgres` database is used to
        /// issue the statement.
        url: String,
    },
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")),
        )
        .with_target(false)
        // stdout is for what a command prints (a URL, a report, the
        // `listening on` line xtask reads); logs never mix into it.
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Migrate => with_db(|_, level| {
            println!("migrated to {level}");
            Ok(())
        }),
        Command::SeedDemo => seed_demo(),
        Command::PgDatabase { action, url } => pg_database(&action, &url),
        Command::ImportCreditData { dir } => import_credit_data(&dir),
        Command::DevBusiness {
            archetype,
            mobile,
            same_operator_as,
            rent_market,
            rent_stall,
        } => dev_business(
            &archetype,
            mobile.as_deref(),
            same_operator_as.as_deref(),
            rent_market.as_deref().zip(rent_stall.as_deref()),
        ),
        Command::GenerateCreditData {
            count,
            seed,
            as_of,
            out_dir,
        } => crate::credit::cli_generate(count, seed, as_of, &out_dir),
        Command::CreateUser {
            username,
            role,
            display_name,
            market,
        } => create_user(&username, &role, display_name.as_deref(), market.as_deref()),
        Command::Replay { decision_id } => with_db(|pool, _| replay(pool, &decision_id)),
        Command::SetPassword { username } => set_password(&username),
        Command::Keys => keys(),
        Command::RevokeKey { fingerprint } => revoke_key(&fingerprint),
        Command::RotateKeys => rotate_keys(),
        Command::Backtest { policy, data } => backtest(policy.as_deref(), data.as_deref()),
        Command::StallUrl {
            stall,
            market,
            market_wide: _,
        } => stall_url(market.as_deref(), stall.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens and migrates the configured database, then runs `f`.
fn with_db(f: impl FnOnce(&db::DbPool, String) -> Result<(), String>) -> Result<(), String> {
    let config = Config::from_env()?;
    ensure_pg_database(&config.database_url)?;
    let pool = db::connect(&config.database_url)?;
    let level = db::migrate(&pool)?;
    f(&pool, level)
}

/// The field key (ID numbers at rest) and the development roster, as the
/// server would use them.
fn identity_keys() -> Result<(crate::auth::keys::FieldCipher, Config), String> {
    let config = Config::from_env()?;
    let auth = crate::auth::AuthState::from_config(&config)?;
    Ok((auth.fields, config))
}

fn import_credit_data(dir: &std::path::Path) -> Result<(), String> {
    let (fields, config) = identity_keys()?;
    with_db(|pool, _| crate::credit::cli_import(pool, &fields, config.real_name.roster_path(), dir))
}

fn dev_business(
    archetype: &str,
    mobile: Option<&str>,
    same_operator_as: Option<&str>,
    county_rent: Option<(&str, &str)>,
) -> Result<(), String> {
    use crate::credit::generate::Archetype;
    let archetype = match archetype {
        "clean" => Archetype::Clean,
        "random" => Archetype::Random,
        "enforcement" => Archetype::OnEnforcementList,
        "dishonesty" => Archetype::OnDishonestyList,
        "tax-d" => Archetype::TaxGradeD,
        other => match other.strip_prefix("rent-arrears-").map(str::parse) {
            Some(Ok(months)) => Archetype::RentArrears(months),
            _ => return Err(format!("unknown archetype {other:?}")),
        },
    };
    let mobile = mobile
        .map(|m| shared::ids::MobileNumber::parse(m).map_err(|e| e.message_en.to_owned()))
        .transpose()?;
    let (fields, config) = identity_keys()?;
    // Synthetic people go only into the development roster, never into a
    // roster file a deployment named on purpose.
    let roster = match (&config.real_name, config.production()) {
        (crate::identity::RealNameSetting::DevRoster(path), false) => path.clone(),
        _ => return Err("the real-name check is not the development roster".into()),
    };
    with_db(|pool, _| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let spec = crate::seed::DevBusinessSpec {
            archetype,
            mobile: mobile.as_ref().map(|m| m.as_str()),
            same_operator_as,
            county_rent,
        };
        let made = crate::seed::dev_business(&mut conn, &fields, &roster, &spec).map_err(|e| {
            match e.code() {
                "not_found" => "no registered operator for that USCC".to_owned(),
                _ => e.to_string(),
            }
        })?;
        println!(
            "{}",
            serde_json::to_string(&made).map_err(|e| e.to_string())?
        );
        Ok(())
    })
}

fn seed_demo() -> Result<(), String> {
    if Config::from_env()?.production() {
        return Err(
            "MARKET_CODE_ENV=production: seed-demo adds a demo market of invented \
                    merchants and a manager with a published password; not in production"
                .to_owned(),
        );
    }
    let (fields, config) = identity_keys()?;
    with_db(|pool, _| {
        let password = std::env::var("MARKET_CODE_DEMO_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| crate::seed::DEFAULT_DEMO_PASSWORD.to_owned());
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let report = crate::seed::seed_demo(&mut conn, &password).map_err(|e| e.to_string())?;
        println!(
            "demo market {}: {} stalls added, {} banks added, manager {}",
            crate::seed::DEMO_MARKET,
            report.stalls_added,
            report.banks_added,
            if report.manager_added {
                "added"
            } else {
                "already there"
            }
        );
        // Each demo stall's holder needs credit facts, or no demo scan can
        // reach a decision.
        let credit =
            crate::seed::seed_demo_credit_data(&mut conn, &fields, config.real_name.roster_path())
                .map_err(|e| e.to_string())?;
        println!(
            "demo credit data: {} licence codes assigned, {} merchants added, {} rows, \
             {} registered operators, {} people added to the real-name roster",
            credit.usccs_assigned,
            credit.merchants_added,
            credit.rows_imported,
            credit.operators_added,
            credit.roster_added
        );
        Ok(())
    })
}

/// The new password: `MARKET_CODE_NEW_PASSWORD`, else standard input's
/// first line (so it stays out of shell history).
fn new_password() -> Result<String, String> {
    match std::env::var("MARKET_CODE_NEW_PASSWORD") {
        Ok(p) if !p.is_empty() => Ok(p),
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            Ok(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    }
}

fn set_password(username: &str) -> Result<(), String> {
    let password = new_password()?;
    with_db(|pool, _| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        crate::services::staff::set_password(&mut conn, "cli", username, &password).map_err(
            |e| match e.code() {
                "not_found" => format!("no staff account {username}"),
                _ => e
                    .body
                    .fields
                    .first()
                    .map_or_else(|| e.to_string(), |f| f.message_en.clone()),
            },
        )?;
        println!("password set for {username}");
        Ok(())
    })
}

fn keys() -> Result<(), String> {
    let config = Config::from_env()?;
    let code_key = crate::stall_codes::CodeKey::load(&config)?;
    let cipher = crate::auth::field_cipher(&config)?;
    with_db(|pool, _| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let revoked =
            crate::stall_codes::revoked(&mut conn, &code_key).map_err(|e| e.to_string())?;
        println!("stall-code keys:");
        for (i, fp) in code_key.fingerprints().into_iter().enumerate() {
            let state = match (i, revoked.iter().any(|r| r == fp)) {
                (0, _) => "current (signs)",
                (_, true) => "retired, revoked",
                (_, false) => "retired (still verifies)",
            };
            println!("  {fp}  {state}");
        }
        println!("field keys:");
        for (i, id) in cipher.key_ids().into_iter().enumerate() {
            let state = if i == 0 {
                "current (encrypts)"
            } else {
                "retired (still decrypts)"
            };
            println!("  {id}  {state}");
        }
        for (field, counts) in
            crate::auth::rotation::census(&mut conn).map_err(|e| e.to_string())?
        {
            let shown: Vec<String> = counts.iter().map(|(id, n)| format!("{id}: {n}")).collect();
            println!(
                "  {field}: {}",
                if shown.is_empty() {
                    "none".to_owned()
                } else {
                    shown.join(", ")
                }
            );
        }
        Ok(())
    })
}

fn revoke_key(fingerprint: &str) -> Result<(), String> {
    let config = Config::from_env()?;
    let code_key = crate::stall_codes::CodeKey::load(&config)?;
    with_db(|pool, _| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        crate::stall_codes::revoke_key(&mut conn, &code_key, fingerprint, "cli").map_err(|e| {
            match e.code() {
                "not_found" => format!(
                    "{fingerprint} is none of this server's stall-code keys (`backend keys` lists them)"
                ),
                _ => e.body.message_en.clone(),
            }
        })?;
        println!("revoked {fingerprint}: codes it signed are refused from now on");
        Ok(())
    })
}

fn rotate_keys() -> Result<(), String> {
    let config = Config::from_env()?;
    let cipher = crate::auth::field_cipher(&config)?;
    with_db(|pool, _| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let reports =
            crate::auth::rotation::rotate(&mut conn, &cipher).map_err(|e| e.to_string())?;
        let mut unreadable = 0;
        for r in &reports {
            println!(
                "{}: {} re-encrypted under {}, {} unreadable",
                r.field,
                r.reencrypted,
                cipher.current_id(),
                r.unreadable
            );
            unreadable += r.unreadable;
        }
        if unreadable > 0 {
            return Err(format!(
                "{unreadable} values are under no configured key: keep every retired key \
                 configured (MARKET_CODE_FIELD_KEYS_RETIRED) until they are found"
            ));
        }
        Ok(())
    })
}

fn create_user(
    username: &str,
    role: &str,
    display_name: Option<&str>,
    market: Option<&str>,
) -> Result<(), String> {
    let password = new_password()?;
    with_db(|pool, _| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let market_id = match market {
            Some(name) => Some(
                crate::stall_codes::find_market(&mut conn, Some(name))
                    .map_err(|_| format!("no market named {name}"))?
                    .id,
            ),
            None => None,
        };
        let input = shared::manager::StaffUserInput {
            username: username.to_owned(),
            display_name: display_name.unwrap_or(username).to_owned(),
            password,
            role: role.to_owned(),
            market_id,
        };
        let user =
            crate::services::staff::create_user(&mut conn, "cli", &input, None).map_err(|e| {
                let fields: Vec<String> = e
                    .body
                    .fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message_en))
                    .collect();
                if fields.is_empty() {
                    e.to_string()
                } else {
                    fields.join("; ")
                }
            })?;
        println!("created {} {} ({})", user.role, user.username, user.id);
        Ok(())
    })
}

fn stall_url(market: Option<&str>, stall: Option<&str>) -> Result<(), String> {
    let config = Config::from_env()?;
    let key = crate::stall_codes::CodeKey::load(&config)?;
    with_db(|pool, _| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let url = crate::stall_codes::stall_url(&mut conn, &key, &config.public_url, market, stall)
            .map_err(|e| match (e.code(), stall) {
                ("not_found", Some(n)) => format!("no stall {n} (or no such market)"),
                ("not_found", None) => "no such market".to_owned(),
                _ => e.to_string(),
            })?;
        println!("{url}");
        Ok(())
    })
}

fn serve() -> Result<(), String> {
    let config = Config::from_env()?;
    ensure_pg_database(&config.database_url)?;
    let addr = config.addr;
    let state = AppState::open(config)?;
    tracing::info!(
        database = state.backend.name(),
        migration = %state.migration,
        "database ready"
    );
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // `cargo xtask test` reads this line to learn an ephemeral port.
        println!("listening on http://{addr}");
        // The peer address is kept with each signed consent (or, from a
        // trusted proxy, tells `request::client` to read X-Forwarded-For).
        let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, let requests in flight finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// `DATABASE_URL=postgres://…/somedb cargo xtask run` should just work, as the
/// SQLite default does: a database that does not exist yet is created.
fn ensure_pg_database(url: &str) -> Result<(), String> {
    use diesel::{Connection, PgConnection};
    if Backend::from_url(url) != Backend::Postgres {
        return Ok(());
    }
    match PgConnection::establish(url) {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("does not exist") => {
            tracing::info!("creating the PostgreSQL database named in DATABASE_URL");
            pg_database("create", url)
        }
        // Left to the pool, which reports it with the backend's name.
        Err(_) => Ok(()),
    }
}

fn pg_database(action: &str, url: &str) -> Result<(), String> {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};
    let (server, name) = url
        .rsplit_once('/')
        .ok_or_else(|| format!("{url} has no database name"))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "database name {name:?} must be letters, digits and _"
        ));
    }
    let mut conn = PgConnection::establish(&format!("{server}/postgres"))
        .map_err(|e| format!("cannot reach PostgreSQL at {server}: {e}"))?;
    let sql = match action {
        "create" => format!("CREATE DATABASE \"{name}\""),
        _ => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    };
    conn.batch_execute(&sql).map_err(|e| e.to_string())
}

/// `backend replay <id>`: fails (exit status 1) when anything differs.
fn replay(pool: &db::DbPool, id: &str) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let r = crate::decisions::replay(&mut conn, id).map_err(|e| e.to_string())?;
    if r.identical() {
        println!("{}: identical (policy {})", r.decision_id, r.policy_version);
        Ok(())
    } else {
        println!("{}: DIFFERENT (policy {})", r.decision_id, r.policy_version);
        for d in &r.differences {
            println!("  {d}");
        }
        Err(format!("{} differences", r.differences.len()))
    }
}

/// `backend backtest [--policy FILE] [--data DIR]`: the built-in policy and
/// the generated default population unless told otherwise.
fn backtest(
    policy_file: Option<&std::path::Path>,
    data: Option<&std::path::Path>,
) -> Result<(), String> {
    use crate::credit::generate;
    let policy = match policy_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            crate::decision::Policy::from_toml(&text).map_err(|e| e.to_string())?
        }
        None => crate::decisions::current_policy().clone(),
    };
    let started = std::time::Instant::now();
    let ds = match data {
        Some(dir) => crate::credit::csvio::read_dir(dir).map_err(|errors| {
            errors
                .iter()
                .take(20)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?,
        None => generate::generate(
            generate::DEFAULT_COUNT,
            generate::DEFAULT_SEED,
            generate::default_as_of(),
        ),
    };
    let population = ds.facts();
    let day =
        crate::decisions::backtest::as_of(&population).unwrap_or_else(generate::default_as_of);
    let mut report = crate::decisions::backtest(&policy, &population, day);
    report.seconds = started.elapsed().as_secs_f64();
    print!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::*;
    use crate::db::schema::decisions;
    use crate::test_fixtures::{decided, now, with_population};

    #[test]
    fn the_replay_command_says_identical_or_different() {
        let dir = std::env::temp_dir().join(format!("mc-replay-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pool = crate::db::connect(dir.join("t.sqlite3").to_str().unwrap()).unwrap();
        crate::db::migrate(&pool).unwrap();
        let mut c = pool.get().unwrap();
        let uscc = with_population(&mut c);
        let d = decided(&mut c, "mer_1", &uscc, now());
        assert_eq!(replay(&pool, &d.id), Ok(()));
        diesel::update(decisions::table.find(&d.id))
            .set(decisions::grade.eq("Z"))
            .execute(&mut c)
            .unwrap();
        assert_eq!(replay(&pool, &d.id), Err("1 differences".to_owned()));
        drop(c);
        drop(pool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
