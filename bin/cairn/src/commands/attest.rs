//! `cairn key generate|show` and `cairn attest <kind>`: build, sign and log statements.
use super::keys::signing_key;
use crate::{cli::KeyCmd, config::Settings, output};
use anyhow::{Result, anyhow};
use cairn_attest::Key;
use serde_json::json;
use std::process::ExitCode;

pub(super) fn run(cmd: &KeyCmd, settings: &Settings, json: bool) -> Result<ExitCode> {
    match cmd {
        KeyCmd::Generate { out } => {
            let path = out
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("keys/attest.key"));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let key = Key::generate().map_err(|e| anyhow!("{e}"))?;
            key.write_file(&path).map_err(|e| anyhow!("{e}"))?;
            let public = key.public();
            if json {
                output::json(
                    &json!({ "path": path, "publicKey": public.to_base64(), "keyId": public.key_id() }),
                );
            } else {
                output::print(&format!(
                    "wrote {} (mode 0600)\npublic key {}\nkey id     {}\n",
                    path.display(),
                    public.to_base64(),
                    public.key_id()
                ));
            }
        }
        KeyCmd::Show { key } => {
            let k = signing_key(settings, key.as_deref())?;
            let public = k.public();
            if json {
                output::json(&json!({ "publicKey": public.to_base64(), "keyId": public.key_id() }));
            } else {
                output::print(&format!(
                    "public key {}\nkey id     {}\n",
                    public.to_base64(),
                    public.key_id()
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves a digest argument: a literal `sha256:<hex>` / `blake3:<hex>`, a `*.bundle.json`
/// (its envelope digest), or a file (its SHA-256).
pub(crate) fn digest_arg(flag: &str, value: &str) -> Result<cairn_attest::Digest> {
    if let Ok(d) = value.parse::<cairn_attest::Digest>() {
        return Ok(d);
    }
    let path = std::path::Path::new(value);
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow!("--{flag} {value:?}: neither a digest (sha256:<hex>, blake3:<hex>) nor a readable file ({e})")
    })?;
    if value.ends_with(".bundle.json") {
        let b = cairn_log_client::Bundle::from_json(&bytes)
            .map_err(|e| anyhow!("--{flag} {value}: {e}"))?;
        return Ok(b.envelope.digest());
    }
    Ok(cairn_attest::Digest::sha256_of(&bytes))
}

/// Splits `k=v` pairs.
fn pairs(flag: &str, items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow!("--{flag} {kv:?}: expected KEY=VALUE"))
        })
        .collect()
}

fn subject(path: &std::path::Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(
        json!({ "name": name, "digest": { "sha256": cairn_attest::Digest::sha256_of(&bytes).hex() } }),
    )
}

/// Builds the statement JSON for `cmd` (validated by the attest crate when parsed).
pub(crate) fn statement_json(cmd: &crate::cli::AttestKind) -> Result<serde_json::Value> {
    use crate::cli::AttestKind as K;
    use cairn_attest::predicate;
    Ok(match cmd {
        K::Model {
            file,
            run,
            format,
            parameters,
            ..
        } => json!({
            "_type": cairn_attest::STATEMENT_TYPE_V1,
            "subject": [subject(file)?],
            "predicateType": predicate::MODEL_V1,
            "predicate": {
                "model": cairn_attest::Digest::sha256_of(&std::fs::read(file)?).to_string(),
                "format": format,
                "trainingRun": digest_arg("run", run)?.to_string(),
                "parameters": parameters,
            },
        }),
        K::Run {
            subject: subj,
            job_id,
            dataset,
            code,
            provider,
            hyper,
            step_trace_root,
            verification,
            ..
        } => {
            let mut hp = serde_json::Map::new();
            for (k, v) in pairs("hyper", hyper)? {
                // Numbers and booleans stay typed; anything else is a string.
                let parsed = serde_json::from_str::<serde_json::Value>(&v)
                    .ok()
                    .filter(|x| x.is_number() || x.is_boolean())
                    .unwrap_or(serde_json::Value::String(v));
                hp.insert(k, parsed);
            }
            let datasets = dataset
                .iter()
                .map(|d| dataset_root(d))
                .collect::<Result<Vec<_>>>()?;
            json!({
                "_type": cairn_attest::STATEMENT_TYPE_V1,
                "subject": [subject(subj)?],
                "predicateType": predicate::TRAINING_RUN_V1,
                "predicate": {
                    "jobId": job_id,
                    "datasets": datasets,
                    "code": digest_arg("code", code)?.to_string(),
                    "hyperparameters": hp,
                    "stepTraceRoot": step_trace_root.as_deref().map(|d| digest_arg("step-trace-root", d)).transpose()?.map(|d| d.to_string()),
                    "providers": provider,
                    "verification": { "outcome": verification },
                },
            })
        }
        K::Inference {
            model,
            input,
            output,
            provider,
            job_id,
            ..
        } => json!({
            "_type": cairn_attest::STATEMENT_TYPE_V1,
            "subject": [subject(output)?],
            "predicateType": predicate::INFERENCE_V1,
            "predicate": {
                "model": digest_arg("model", model)?.to_string(),
                "input": digest_arg("input", input)?.to_string(),
                "output": cairn_attest::Digest::sha256_of(&std::fs::read(output)?).to_string(),
                "provider": provider,
                "jobId": job_id,
            },
        }),
        K::Decision {
            subject: subj,
            plan,
            inputs,
            kind,
            amount,
            reason,
            risk,
            ..
        } => {
            let mut risks = serde_json::Map::new();
            for (k, v) in pairs("risk", risk)? {
                let x: f64 = v
                    .parse()
                    .map_err(|_| anyhow!("--risk {k}={v}: the value must be a number"))?;
                risks.insert(k, json!(x));
            }
            let amounts: serde_json::Map<String, serde_json::Value> = pairs("amount", amount)?
                .into_iter()
                .map(|(k, v)| (k, json!(v)))
                .collect();
            json!({
                "_type": cairn_attest::STATEMENT_TYPE_V1,
                "subject": [subject(subj)?],
                "predicateType": predicate::DECISION_V1,
                "predicate": {
                    "plan": digest_arg("plan", plan)?.to_string(),
                    "inputs": digest_arg("inputs", inputs)?.to_string(),
                    "kind": kind,
                    "amounts": amounts,
                    "reason": reason,
                    "risk": risks,
                },
            })
        }
        K::Dataset {
            dir,
            name,
            license,
            source,
            ..
        } => {
            crate::commands::data::dataset_statement(
                dir,
                name,
                license.as_deref(),
                source.as_deref(),
            )?
            .0
        }
    })
}

/// A dataset root: a literal `blake3:` digest, or a dataset statement's bundle (its root).
fn dataset_root(value: &str) -> Result<String> {
    if value.ends_with(".bundle.json") {
        let bytes = std::fs::read(value).map_err(|e| anyhow!("--dataset {value}: {e}"))?;
        let b = cairn_log_client::Bundle::from_json(&bytes)
            .map_err(|e| anyhow!("--dataset {value}: {e}"))?;
        let st = cairn_attest::parse_statement(&b.envelope.payload)
            .map_err(|e| anyhow!("--dataset {value}: {e}"))?;
        return st.predicate["root"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("--dataset {value}: not a dataset statement"));
    }
    Ok(digest_arg("dataset", value)?.to_string())
}

/// `cairn attest <kind>`: build, validate, sign, and log (or write) the statement.
pub(super) async fn attest(
    cmd: &crate::cli::AttestKind,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    let common = cmd.common();
    let key = signing_key(settings, common.key.as_deref())?;
    let mut manifest_blob = None;
    let value = match cmd {
        crate::cli::AttestKind::Dataset {
            dir,
            name,
            license,
            source,
            ..
        } => {
            let (v, manifest) = crate::commands::data::dataset_statement(
                dir,
                name,
                license.as_deref(),
                source.as_deref(),
            )?;
            manifest_blob = Some(manifest);
            v
        }
        other => statement_json(other)?,
    };
    let bytes = serde_json::to_vec(&value)?;
    let statement =
        cairn_attest::parse_known_statement(&bytes).map_err(|e| anyhow!("statement: {e}"))?;
    statement
        .validate()
        .map_err(|e| anyhow!("statement: {e}"))?;
    let envelope =
        cairn_attest::Envelope::sign_statement(&statement, &key).map_err(|e| anyhow!("{e}"))?;
    let stem = cmd.default_stem();
    if common.no_log {
        let out = common
            .out
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(format!("{stem}.envelope.json")));
        std::fs::write(&out, serde_json::to_string_pretty(&envelope)? + "\n")?;
        if json_out {
            output::json(
                &json!({ "envelope": out, "envelopeDigest": envelope.digest().to_string() }),
            );
        } else {
            output::print(&format!(
                "signed {} → {}\n",
                envelope.digest(),
                out.display()
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let client = cairn_log_client::LogClient::new(&common.log);
    let out = common
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{stem}.bundle.json")));
    let resp = crate::commands::log::submit(&client, envelope, &key, &out, json_out).await?;
    // The log takes an anonymous blob only once a logged statement names it.
    if let Some(m) = manifest_blob {
        client.put_blob(m).await?;
    }
    if json_out {
        output::json(&resp);
    }
    Ok(ExitCode::SUCCESS)
}
