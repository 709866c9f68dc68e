//! `cairn agent mcp` in a real MCP session: rmcp's client spawns the binary (stdio transport)
//! against a devnet with a funded vault, lists the tools, reads prices, buys the current slot
//! through the vault (the Bought events on chain match), is refused a second buy for the same
//! slot, and gets tool errors for arguments outside the policy.
mod common;

use alloy::{
    primitives::Address,
    providers::{Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use cairn_contracts::AgentVault;
use common::{cairn, devnet, json};
use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json as j};
use std::{path::Path, time::Duration};

const PLAN: &str = "examples/plans/daily-btc60-bnb40.toml";

/// Deploys a vault (1,000 USDT a day, 2% cap) and deposits 5,000 USDT. Returns its address.
fn vault(d: &Path) -> Address {
    let k = |n: &str| d.join(n).display().to_string();
    let v = json(cairn(d).args([
        "--json",
        "agent",
        "vault",
        "deploy",
        "--owner-key",
        &k("owner.key"),
        "--agent-key",
        &k("agent.key"),
        "--budget",
        "1000",
        "--period",
        "1d",
        "--slippage-bps",
        "200",
    ]));
    json(cairn(d).args([
        "--json",
        "agent",
        "vault",
        "deposit",
        "5000",
        "--owner-key",
        &k("owner.key"),
    ]));
    v["vault"].as_str().unwrap().parse().unwrap()
}

/// `(transaction, router)` of the vault's Bought events.
async fn bought_routes(url: &str, vault: Address) -> Vec<(String, Address)> {
    let p = ProviderBuilder::new().connect_http(url.parse().unwrap());
    let f = Filter::new()
        .address(vault)
        .event_signature(AgentVault::Bought::SIGNATURE_HASH)
        .from_block(0);
    p.get_logs(&f)
        .await
        .unwrap()
        .into_iter()
        .map(|l| {
            let e = l.log_decode::<AgentVault::Bought>().unwrap();
            (l.transaction_hash.unwrap().to_string(), e.inner.data.router)
        })
        .collect()
}

async fn bought(url: &str, vault: Address) -> Vec<String> {
    let p = ProviderBuilder::new().connect_http(url.parse().unwrap());
    let f = Filter::new()
        .address(vault)
        .event_signature(AgentVault::Bought::SIGNATURE_HASH)
        .from_block(0);
    p.get_logs(&f)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.transaction_hash.unwrap().to_string())
        .collect()
}

async fn call(
    c: &RunningService<rmcp::RoleClient, ()>,
    name: &'static str,
    args: Value,
) -> CallToolResult {
    let mut p = CallToolRequestParams::new(name);
    if let Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    tokio::time::timeout(Duration::from_secs(120), c.call_tool(p))
        .await
        .unwrap_or_else(|_| panic!("{name} did not answer"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ok_json(r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "tool error: {}", text(r));
    serde_json::from_str(&text(r)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(r)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_session_reads_buys_once_per_slot_and_refuses_out_of_policy_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _devnet = devnet(d);
    let st = json(cairn(d).args(["--json", "devnet", "status"]));
    let url = st["devnet"]["rpc_url"].as_str().unwrap().to_owned();
    let pancake: Address = st["deployment"]["contracts"]["pancake_router"]
        .as_str()
        .expect("the devnet has the Pancake venue")
        .parse()
        .unwrap();
    let vault = vault(d);

    let repo = common::repo();
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn")).configure(|c| {
        c.current_dir(&repo)
            .arg("--data-dir")
            .arg(d)
            .args(["agent", "mcp", PLAN, "--live", "--no-log", "--agent-key"])
            .arg(d.join("agent.key"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CAIRN_") {
                c.env_remove(k);
            }
        }
    });
    let client = tokio::time::timeout(
        Duration::from_secs(60),
        ().serve(TokioChildProcess::new(cmd).unwrap()),
    )
    .await
    .expect("the MCP server starts")
    .expect("MCP initialize");

    // The tools.
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for n in [
        "prices",
        "risk_metrics",
        "portfolio",
        "backtest",
        "propose_plan",
        "execute_next_buy",
        "pause",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    // No tool takes slippage, a recipient, a router or an approval.
    for t in &tools {
        let schema = serde_json::to_string(&t.input_schema)
            .unwrap()
            .to_lowercase();
        for banned in [
            "slippage",
            "recipient",
            "router",
            "approv",
            "spender",
            "deadline",
        ] {
            assert!(!schema.contains(banned), "{}: {schema}", t.name);
        }
    }

    // A read tool: the devnet's seed prices from the feeds and the pools.
    let p = ok_json(&call(&client, "prices", j!({})).await);
    let assets = p["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2, "{p:#}");
    for a in assets {
        assert!(a["oraclePrice"].as_f64().unwrap() > 0.0, "{a}");
        assert!(a["poolPrice"].as_f64().unwrap() > 0.0, "{a}");
        assert_eq!(a["fresh"], true, "{a}");
    }
    let r = ok_json(&call(&client, "risk_metrics", j!({})).await);
    assert_eq!(r["assets"].as_array().unwrap().len(), 2, "{r:#}");

    // Out of policy: more than the plan's budget (100 USDT a day), and an argument the model
    // may not set. Nothing is bought.
    let over = call(&client, "execute_next_buy", j!({ "max_spend": 5000.0 })).await;
    assert_eq!(over.is_error, Some(true), "{}", text(&over));
    assert!(
        text(&over).contains("more than the plan's budget"),
        "{}",
        text(&over)
    );
    let mut p = CallToolRequestParams::new("execute_next_buy");
    p = p.with_arguments(j!({ "slippage_bps": 5000 }).as_object().unwrap().clone());
    match client.call_tool(p).await {
        Err(e) => assert!(e.to_string().contains("slippage_bps"), "{e}"),
        Ok(r) => {
            assert_eq!(r.is_error, Some(true), "{}", text(&r));
            assert!(text(&r).contains("slippage_bps"), "{}", text(&r));
        }
    }
    assert!(bought(&url, vault).await.is_empty());

    // Buy the current slot now, capped at 60 USDT: one buy per asset on chain.
    let b = ok_json(&call(&client, "execute_next_buy", j!({ "max_spend": 60.0 })).await);
    let orders = b["orders"].as_array().unwrap();
    let filled: Vec<&Value> = orders.iter().filter(|o| o["state"] == "filled").collect();
    assert!(!filled.is_empty(), "{b:#}");
    let spent: f64 = orders
        .iter()
        .map(|o| o["amountIn"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(spent <= 60.0 + 1e-9 && spent > 59.0, "{b:#}");
    let on_chain = bought(&url, vault).await;
    assert_eq!(on_chain.len(), filled.len(), "{on_chain:?} {b:#}");
    for o in &filled {
        assert!(
            on_chain.contains(&o["txHash"].as_str().unwrap().to_owned()),
            "{o}"
        );
    }
    // Both venues' pools sit at the seed prices and the vault allow-lists both routers: the
    // Pancake pair's lower fee (20 bps against 30) pays more, so every buy went there.
    for (tx, router) in bought_routes(&url, vault).await {
        assert_eq!(router, pancake, "{tx}");
    }

    // The same slot again: refused, nothing more on chain.
    let again = call(&client, "execute_next_buy", j!({})).await;
    assert_eq!(again.is_error, Some(true), "{}", text(&again));
    assert!(text(&again).contains("already decided"), "{}", text(&again));
    assert_eq!(bought(&url, vault).await.len(), filled.len());

    // The portfolio shows the fills and the vault's balances.
    let pf = ok_json(&call(&client, "portfolio", j!({})).await);
    let buys: u64 = pf["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["buys"].as_u64().unwrap())
        .sum();
    assert_eq!(buys as usize, filled.len(), "{pf:#}");
    assert!(pf["nextBuy"].is_string(), "{pf:#}");
    assert_eq!(pf["vault"]["paused"], false, "{pf:#}");

    // A proposal that raises the budget is refused; one within it is stored, not executed.
    let raise = std::fs::read_to_string(repo.join(PLAN))
        .unwrap()
        .replace("amount = 100.0", "amount = 500.0");
    let r = call(&client, "propose_plan", j!({ "plan_toml": raise })).await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("budget"), "{}", text(&r));
    let lower = std::fs::read_to_string(repo.join(PLAN))
        .unwrap()
        .replace("amount = 100.0", "amount = 50.0");
    let r = ok_json(&call(&client, "propose_plan", j!({ "plan_toml": lower })).await);
    assert!(Path::new(r["stored"].as_str().unwrap()).exists(), "{r:#}");
    assert_eq!(bought(&url, vault).await.len(), filled.len());

    // A backtest over the repository's candles.
    let bt = ok_json(
        &call(
            &client,
            "backtest",
            j!({ "from": "2024-01-01", "to": "2024-03-31" }),
        )
        .await,
    );
    assert!(bt["strategy"].is_object(), "{bt:#}");
    assert!(bt.get("log").is_none());

    // Pause (no owner key: the agent's own pause), then nothing is decided.
    let pz = ok_json(&call(&client, "pause", j!({ "reason": "test" })).await);
    assert_eq!(pz["paused"], "agent", "{pz:#}");
    let pf = ok_json(&call(&client, "portfolio", j!({})).await);
    assert_eq!(pf["paused"], "test", "{pf:#}");

    client.cancel().await.unwrap();

    // The owner lifts the agent-side pause.
    let st = json(cairn(d).args(["--json", "agent", "status", PLAN, "--live"]));
    assert_eq!(st["paused"], "test", "{st:#}");
    let r = json(cairn(d).args(["--json", "agent", "resume", PLAN, "--live"]));
    assert_eq!(r["wasPaused"], "test", "{r:#}");
    let st = json(cairn(d).args(["--json", "agent", "status", PLAN, "--live"]));
    assert!(st["paused"].is_null(), "{st:#}");
}

/// `--http`: the same server over streamable HTTP on loopback answers an MCP `initialize` and a
/// `tools/list` (paper mode, so no vault is needed).
#[test]
fn mcp_over_streamable_http_initializes_and_lists_tools() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _devnet = devnet(d);
    let mut child = cairn(d)
        .args([
            "agent",
            "mcp",
            PLAN,
            "--paper",
            "--no-log",
            "--http",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _guard = Kill(child);
    let banner: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let url = banner["listening"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let post = |body: Value, session: Option<String>| {
            let mut r = http
                .post(&url)
                .header("accept", "application/json, text/event-stream")
                .header("content-type", "application/json")
                .json(&body);
            if let Some(s) = session {
                r = r
                    .header("mcp-session-id", s)
                    .header("mcp-protocol-version", "2025-06-18");
            }
            r.send()
        };
        let init = post(
            j!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "cairn-test", "version": "0"}
            }}),
            None,
        )
        .await
        .unwrap();
        assert!(init.status().is_success(), "{}", init.status());
        let session = init
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = init.text().await.unwrap();
        assert!(body.contains("cairn-agent"), "{body}");
        let note = post(
            j!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            session.clone(),
        )
        .await
        .unwrap();
        assert!(note.status().is_success(), "{}", note.status());
        let list = post(
            j!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            session,
        )
        .await
        .unwrap();
        let body = list.text().await.unwrap();
        for t in ["prices", "execute_next_buy", "pause"] {
            assert!(body.contains(t), "{t}: {body}");
        }
    });
}
