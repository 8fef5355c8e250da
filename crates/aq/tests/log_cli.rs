#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The auditor's side of the transparency log, end to end: a real `aq serve` (in process, real
//! TLS device plane, real PUF devices) witnessed by a real `aq witness serve` process; `aq log`
//! and `aq audit` run as a user runs them.

#[path = "../../aq-server/tests/common/mod.rs"]
mod common;

use aq_tlog::checkpoint::Checkpoint;
use aq_tlog::note::{NoteLimits, Signer, Verifier};
use aq_tlog::witness::AddCheckpointRequest;
use base64::Engine as _;
use common::TestServer;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Runs the `aq` binary off the async threads; returns (exit code, stdout, stderr).
async fn aq(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_aq"))
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

async fn aq_json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = aq(args).await;
    let v = serde_json::from_str(&out).unwrap_or_else(|_| panic!("not JSON: {out}\n{err}"));
    (code, v)
}

/// A running `aq witness serve` process.
struct WitnessProc {
    child: Child,
    addr: String,
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_witness(dir: &Path, addr: &str) -> WitnessProc {
    let (dir, addr) = (dir.to_path_buf(), addr.to_string());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aq"))
            .args(["witness", "serve"])
            .arg(&dir)
            .args(["--addr", &addr])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("aq witness listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        WitnessProc {
            child,
            addr,
            _stdout: stdout,
        }
    })
    .await
    .unwrap()
}

/// POSTs a raw body to a witness.
async fn post(addr: &str, path: &str, body: Vec<u8>) -> (u16, String) {
    use http_body_util::{BodyExt, Full};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut s, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", addr)
        .body(Full::new(hyper::body::Bytes::from(body)))
        .unwrap();
    let resp = s.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let b = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&b).into_owned())
}

struct Setup {
    ts: TestServer,
    witness: WitnessProc,
    wdir: tempfile::TempDir,
    wvkey: String,
    log_vkey: String,
    origin: String,
}

impl Setup {
    fn url(&self) -> String {
        format!("http://{}", self.ts.running().api_addr)
    }

    fn log_signer(&self) -> Signer {
        let (origin, seed) =
            aq_server::keys::read_log_key(&self.ts.dir.path().join("server/log.key")).unwrap();
        Signer::ed25519_from_seed(&origin, seed).unwrap()
    }

    async fn checkpoint_text(&self) -> String {
        let (s, v) = self.ts.call("GET", "/checkpoint", "", None).await;
        assert_eq!(s, 200);
        v.as_str().unwrap().to_string()
    }

    /// Waits until `/checkpoint` is cosigned by the witness at a size of at least `size`.
    async fn cosigned_at_least(&self, size: u64) -> (Checkpoint, String) {
        let log = Verifier::from_vkey(&self.log_vkey).unwrap();
        let w = Verifier::from_vkey(&self.wvkey).unwrap();
        for _ in 0..300 {
            let text = self.checkpoint_text().await;
            if let Ok(o) = aq_tlog::checkpoint::open_checkpoint(
                text.as_bytes(),
                &self.origin,
                std::slice::from_ref(&log),
                std::slice::from_ref(&w),
                &NoteLimits::default(),
            ) && o.note.signed_by(&w).is_some()
                && o.checkpoint.size >= size
            {
                return (o.checkpoint, text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no checkpoint of size >= {size} cosigned by the witness in 30 s; last:\n{}",
            self.checkpoint_text().await
        );
    }

    fn log_size(&self) -> u64 {
        self.ts.running().state.core.log.lock().size()
    }
}

/// A server whose configuration names a freshly initialised `aq witness serve`.
async fn witnessed_server() -> Setup {
    let ts = TestServer::start().await;
    let origin = ts.running().state.core.cfg.log_origin.clone();
    let log_vkey = ts.running().state.core.log_vkey.clone();
    let wdir = tempfile::tempdir().unwrap();
    let wd = wdir.path().join("w");
    let (code, out, err) = aq(&[
        "witness",
        "init",
        wd.to_str().unwrap(),
        "--name",
        "test.witness/w1",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let wvkey = out.trim().to_string();
    assert!(Verifier::from_vkey(&wvkey).unwrap().is_cosigner());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(wd.join("witness.skey"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (code, out, err) = aq(&[
        "witness",
        "add-log",
        wd.to_str().unwrap(),
        "--origin",
        &origin,
        "--vkey",
        &log_vkey,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let witness = start_witness(&wd, "127.0.0.1:0").await;
    let cfg = ts.dir.path().join("aq.toml");
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    toml.push_str(&format!(
        "\n[[witness]]\nurl = \"http://{}\"\nvkey = \"{wvkey}\"\n",
        witness.addr
    ));
    std::fs::write(&cfg, toml).unwrap();
    let ts = ts.restart().await;
    Setup {
        ts,
        witness,
        wdir,
        wvkey,
        log_vkey,
        origin,
    }
}

/// Boots devices `ids` and has each submit `n` measurements.
async fn traffic(ts: &TestServer, devs: &mut Vec<common::TestDevice>, ids: &[usize], n: usize) {
    for &i in ids {
        while devs.len() <= i {
            let d = ts.device(devs.len()).await;
            devs.push(d);
        }
        let d = &mut devs[i];
        let mut recs = Vec::new();
        if d.transport.is_none() {
            recs.push(d.boot(ts));
        }
        for _ in 0..n {
            recs.push(d.measure(ts));
        }
        let refs: Vec<&Vec<u8>> = recs.iter().collect();
        let (sub, _) = d.submit(&refs).await.unwrap();
        assert!(
            sub.results.iter().all(|r| r.disposition == "accepted"),
            "{:?}",
            sub.results
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_cosigns_survives_kill_9_and_refuses_a_split_view() {
    let mut s = witnessed_server().await;
    let mut devs = Vec::new();
    traffic(&s.ts, &mut devs, &[0, 1], 5).await;
    let (cp, text) = s.cosigned_at_least(s.log_size()).await;
    assert!(text.contains("\n\u{2014} test.witness/w1 "), "{text}");
    let wd = s.wdir.path().join("w");
    let (code, show) = aq_json(&["witness", "show", wd.to_str().unwrap(), "--json"]).await;
    assert_eq!(code, 0);
    assert!(show["logs"][0]["size"].as_u64().unwrap() >= cp.size);
    // The published history carries the cosigned checkpoint.
    let hist = s.ts.get("/v1/log/checkpoints", "").await;
    assert!(hist["checkpoints"].as_array().unwrap().iter().any(|c| {
        c["checkpoint"]
            .as_str()
            .unwrap()
            .contains("test.witness/w1")
    }));

    // kill -9 the witness, restart it on the same directory and port: its state survived, and
    // the server's next checkpoints are cosigned from there.
    let addr = s.witness.addr.clone();
    s.witness.child.kill().unwrap();
    s.witness.child.wait().unwrap();
    let (_, show) = aq_json(&["witness", "show", wd.to_str().unwrap(), "--json"]).await;
    let persisted = show["logs"][0]["size"].as_u64().unwrap();
    assert!(persisted >= cp.size);
    s.witness = start_witness(&wd, &addr).await;
    traffic(&s.ts, &mut devs, &[0, 2], 4).await;
    let (cp2, _) = s.cosigned_at_least(s.log_size()).await;
    assert!(cp2.size > persisted);

    // A second history signed with the log key: the same size with another root is refused
    // with 409, and a longer fork whose proof does not lead from the cosigned root with 422.
    let signer = s.log_signer();
    let honest_text = std::fs::read(s.ts.dir.path().join("witness/checkpoint")).unwrap();
    s.ts.stop().await;
    let (_, show) = aq_json(&["witness", "show", wd.to_str().unwrap(), "--json"]).await;
    let (size, root) = (
        show["logs"][0]["size"].as_u64().unwrap(),
        show["logs"][0]["root"].as_str().unwrap().to_string(),
    );
    let forged = Checkpoint {
        origin: s.origin.clone(),
        size,
        root: aq_tlog::leaf_hash(b"another history"),
        extensions: vec![],
    }
    .sign(&[&signer])
    .unwrap();
    let body = AddCheckpointRequest {
        old_size: size,
        proof: vec![],
        checkpoint: forged,
    }
    .to_bytes();
    let (st, b) = post(&s.witness.addr, "/add-checkpoint", body).await;
    assert_eq!((st, b.as_str()), (409, format!("{size}\n").as_str()));
    let fork = aq_tlog::MemoryTree::from_entries((0..size + 3).map(|i| format!("fork {i}")));
    let proof = fork.consistency_proof(size, size + 3).unwrap();
    let forged = Checkpoint {
        origin: s.origin.clone(),
        size: size + 3,
        root: fork.root(),
        extensions: vec![],
    }
    .sign(&[&signer])
    .unwrap();
    let body = AddCheckpointRequest {
        old_size: size,
        proof,
        checkpoint: forged,
    }
    .to_bytes();
    let (st, _) = post(&s.witness.addr, "/add-checkpoint", body).await;
    assert_eq!(st, 422);
    // A stale old size is answered 409 with the witness's size, as the spec says.
    let body = AddCheckpointRequest {
        old_size: 1,
        proof: vec![],
        checkpoint: honest_text,
    }
    .to_bytes();
    let (st, b) = post(&s.witness.addr, "/add-checkpoint", body).await;
    assert_eq!((st, b), (409, format!("{size}\n")));
    // Nothing was cosigned: the state is what it was, and the conflicts are kept as evidence.
    let (_, show) = aq_json(&["witness", "show", wd.to_str().unwrap(), "--json"]).await;
    assert_eq!(show["logs"][0]["size"].as_u64(), Some(size));
    assert_eq!(show["logs"][0]["root"].as_str(), Some(root.as_str()));
    assert!(show["conflicts_recorded"].as_u64().unwrap() >= 2);
    // A log the witness does not follow: 404.
    let other = Signer::ed25519_from_seed("other.log", [3; 32]).unwrap();
    let cp = Checkpoint {
        origin: "other.log".into(),
        size: 1,
        root: aq_tlog::leaf_hash(b"x"),
        extensions: vec![],
    }
    .sign(&[&other])
    .unwrap();
    let body = AddCheckpointRequest {
        old_size: 0,
        proof: vec![],
        checkpoint: cp,
    }
    .to_bytes();
    assert_eq!(post(&s.witness.addr, "/add-checkpoint", body).await.0, 404);
}

/// Rewrites a bundle through `f` into a new file.
fn tampered(src: &Path, name: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    f(&mut v);
    let p = src.with_file_name(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

fn findings(v: &Value) -> Vec<(String, Option<u64>, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["index"].as_u64(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verifies_an_honest_bundle_and_names_every_tampering() {
    let s = witnessed_server().await;
    let url = s.url();
    let mut devs = Vec::new();
    traffic(&s.ts, &mut devs, &[0, 1, 2], 6).await;
    s.cosigned_at_least(s.log_size()).await;
    let dir = s.wdir.path();
    let t1 = dir.join("trusted-1.txt");
    let (code, v) = aq_json(&[
        "log",
        "checkpoint",
        "--server",
        &url,
        "--log-key",
        &s.log_vkey,
        "--witness",
        &s.wvkey,
        "--min-witnesses",
        "1",
        "--out",
        t1.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{v}");
    let t1_size = v["size"].as_u64().unwrap();
    traffic(&s.ts, &mut devs, &[0, 1, 2], 6).await;
    s.cosigned_at_least(s.log_size()).await;

    let bundle = dir.join("bundle.json");
    let (code, v) = aq_json(&[
        "log",
        "export",
        "--server",
        &url,
        "--log-key",
        &s.log_vkey,
        "--out",
        bundle.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{v}");
    let n = v["checkpoint_size"].as_u64().unwrap();
    assert!(n > t1_size);
    let ca = s.ts.dir.path().join("trust/manufacturer.pem");
    let ca = ca.to_str().unwrap().to_string();
    let base = |b: &Path| -> Vec<String> {
        vec![
            "audit".into(),
            b.to_str().unwrap().into(),
            "--log-key".into(),
            s.log_vkey.clone(),
            "--ca".into(),
            ca.clone(),
            "--witness".into(),
            s.wvkey.clone(),
            "--min-witnesses".into(),
            "1".into(),
            "--json".into(),
        ]
    };
    let audit = |b: PathBuf, extra: Vec<String>| {
        let mut args = base(&b);
        args.extend(extra);
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            aq_json(&refs).await
        }
    };
    let trusted = vec![
        "--trusted-checkpoint".to_string(),
        t1.to_str().unwrap().to_string(),
    ];

    // Honest: everything verifies, with the records of three devices (one P-256).
    let (code, v) = audit(bundle.clone(), trusted.clone()).await;
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["stats"]["devices"], 3);
    assert_eq!(v["stats"]["records"], 3 * 13);
    assert_eq!(v["stats"]["included"].as_u64(), Some(n));
    assert_eq!(v["cosignatures"].as_array().unwrap().len(), 1);
    assert!(
        v["stats"]["published_checkpoints_consistent"]
            .as_u64()
            .unwrap()
            >= 1
    );

    let b: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let entries = b["entries"].as_array().unwrap().clone();
    let rec_pos = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| B64.decode(e["data"].as_str().unwrap()).unwrap()[0] == 0x01)
        .map(|(k, _)| k)
        .nth(3) // the first device's third measurement: boot at seq 0, so seq 3
        .unwrap();
    let rec_index = entries[rec_pos]["index"].as_u64().unwrap();

    // A record byte flipped (in its signature): not included, and a forged record.
    let p = tampered(&bundle, "flipped", |v| {
        let e = &mut v["entries"][rec_pos];
        let mut d = B64.decode(e["data"].as_str().unwrap()).unwrap();
        let last = d.len() - 1;
        d[last] ^= 0x01;
        e["data"] = Value::String(B64.encode(d));
    });
    let (code, v) = audit(p, vec![]).await;
    assert_eq!(code, 15, "{v:#}");
    let f = findings(&v);
    assert!(
        f.iter()
            .any(|(c, i, _)| c == "inclusion" && *i == Some(rec_index)),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(c, i, m)| c == "evidence" && *i == Some(rec_index) && m.contains("forgery")),
        "{f:?}"
    );

    // An entry dropped from the middle: missing, and a gap in that device's chain.
    let p = tampered(&bundle, "dropped", |v| {
        v["entries"].as_array_mut().unwrap().remove(rec_pos);
    });
    let (code, v) = audit(p, vec![]).await;
    assert_eq!(code, 12, "{v:#}");
    let f = findings(&v);
    assert!(
        f.iter().any(|(c, _, m)| c == "truncated"
            && m.contains("missing")
            && m.contains(&rec_index.to_string())),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|(c, _, m)| c == "evidence" && m.contains("gap")),
        "{f:?}"
    );

    // An inclusion proof altered.
    let p = tampered(&bundle, "proof", |v| {
        v["entries"][rec_pos]["proof"][0] =
            Value::String(aq_tlog::leaf_hash(b"not a node").to_base64());
    });
    let (code, v) = audit(p, vec![]).await;
    assert_eq!(code, 15, "{v:#}");
    assert_eq!(
        findings(&v),
        vec![(
            "inclusion".to_string(),
            Some(rec_index),
            findings(&v)[0].2.clone()
        )]
    );

    // The checkpoint re-signed by another key (and the bundle naming that key).
    let other = Signer::ed25519_from_seed(&s.origin, [0x77; 32]).unwrap();
    let p = tampered(&bundle, "resigned", |v| {
        let note = aq_tlog::note::parse_note(
            v["checkpoint"].as_str().unwrap().as_bytes(),
            &NoteLimits::default(),
        )
        .unwrap();
        let signed = aq_tlog::note::sign_note(&note.text, &[&other]).unwrap();
        v["checkpoint"] = Value::String(String::from_utf8(signed).unwrap());
        v["log_vkey"] = Value::String(other.verifier().to_vkey());
    });
    let (code, v) = audit(p, vec![]).await;
    assert_eq!(code, 10, "{v:#}");
    assert!(findings(&v)[0].2.contains("not signed by the log key"));

    // The witness cosignature stripped while --min-witnesses 1 is required.
    let p = tampered(&bundle, "uncosigned", |v| {
        let text = v["checkpoint"].as_str().unwrap();
        let kept: String = text
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("\u{2014} test.witness/w1 "))
            .collect();
        v["checkpoint"] = Value::String(kept);
    });
    let (code, v) = audit(p, vec![]).await;
    assert_eq!(code, 14, "{v:#}");
    assert!(findings(&v)[0].2.contains("0 of the required 1"), "{v:#}");

    // A trusted checkpoint the bundle is not consistent with (another root at the trusted size,
    // signed with the log key): a split view.
    let signer = s.log_signer();
    let t1cp = std::fs::read_to_string(&t1).unwrap();
    let t1parsed = Checkpoint::parse(
        &aq_tlog::note::parse_note(t1cp.as_bytes(), &NoteLimits::default())
            .unwrap()
            .text,
    )
    .unwrap();
    let fork = dir.join("fork.txt");
    std::fs::write(
        &fork,
        Checkpoint {
            root: aq_tlog::leaf_hash(b"the other history"),
            ..t1parsed.clone()
        }
        .sign(&[&signer])
        .unwrap(),
    )
    .unwrap();
    let (code, v) = audit(
        bundle.clone(),
        vec!["--trusted-checkpoint".into(), fork.to_str().unwrap().into()],
    )
    .await;
    assert_eq!(code, 11, "{v:#}");
    assert!(findings(&v)[0].2.contains("split view"));

    // A truncated tail: the last entries dropped while the bundle still claims the whole log...
    let p = tampered(&bundle, "tail", |v| {
        let e = v["entries"].as_array_mut().unwrap();
        let k = e.len() - 3;
        e.truncate(k);
    });
    let (code, v) = audit(p, vec![]).await;
    assert_eq!(code, 12, "{v:#}");
    assert!(
        findings(&v).iter().any(|(c, _, m)| c == "truncated"
            && m.contains(&format!("truncated tail: entries [{}, {n})", n - 3))),
        "{v:#}"
    );
    // ...and a bundle older than a checkpoint the auditor already trusts.
    traffic(&s.ts, &mut devs, &[1], 3).await;
    s.cosigned_at_least(s.log_size()).await;
    let t2 = dir.join("trusted-2.txt");
    let (code, _) = aq_json(&[
        "log",
        "checkpoint",
        "--server",
        &url,
        "--log-key",
        &s.log_vkey,
        "--out",
        t2.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(code, 0);
    let (code, v) = audit(
        bundle.clone(),
        vec!["--trusted-checkpoint".into(), t2.to_str().unwrap().into()],
    )
    .await;
    assert_eq!(code, 12, "{v:#}");
    assert!(findings(&v)[0].2.contains("truncated tail"), "{v:#}");

    // A device bundle from the middle of the log: its context boot record introduces the key,
    // and consistency with the trusted checkpoint comes from the proof the export added.
    let dev1 = devs[1].sim.id().to_hex();
    let part = dir.join("part.json");
    let from = (t1_size + 1).to_string();
    let (code, v) = aq_json(&[
        "log",
        "export",
        "--server",
        &url,
        "--log-key",
        &s.log_vkey,
        "--device",
        &dev1,
        "--from",
        &from,
        "--consistency-from",
        &t1_size.to_string(),
        "--out",
        part.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{v}");
    let mut extra = trusted.clone();
    extra.push("--partial".into());
    let (code, v) = audit(part.clone(), extra).await;
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["stats"]["devices"], 1);
    assert!(v["stats"]["records"].as_u64().unwrap() >= 6, "{v:#}");
    // Without --partial it is refused as incomplete; without the proof, as unverifiable.
    let (code, _) = audit(part.clone(), trusted.clone()).await;
    assert_eq!(code, 12);
    let p = tampered(&part, "noproof", |v| {
        v["checkpoints"]
            .as_array_mut()
            .unwrap()
            .retain(|c| c["size"].as_u64() != Some(t1_size));
    });
    let mut extra = trusted.clone();
    extra.push("--partial".into());
    let (code, v) = audit(p, extra).await;
    assert_eq!(code, 13, "{v:#}");

    // Any single corrupted byte: refused with one of the named codes, never a crash. (A byte of
    // the informational fields, e.g. created_ms, may legitimately change nothing.)
    let raw = std::fs::read(&bundle).unwrap();
    let (mut refused, mut x) = (0, 0x2545_f491_4f6c_dd1du64);
    let trials = 40;
    for k in 0..trials {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut c = raw.clone();
        let pos = (x % c.len() as u64) as usize;
        c[pos] ^= 1 << (x >> 60 & 7);
        let p = dir.join(format!("flip-{k}.json"));
        std::fs::write(&p, &c).unwrap();
        let mut args = base(&p);
        args.pop();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = aq(&refs).await;
        assert!(
            [0, 3, 10, 11, 12, 13, 14, 15, 16].contains(&code),
            "byte {pos}: exit {code}\n{out}{err}"
        );
        refused += usize::from(code != 0);
    }
    assert!(
        refused * 10 >= trials * 9,
        "only {refused} of {trials} corruptions refused"
    );

    // Garbage is malformed (3); a missing trust root is a usage error (2).
    let junk = dir.join("junk.json");
    std::fs::write(&junk, b"{\"format\": 1}").unwrap();
    assert_eq!(audit(junk, vec![]).await.0, 3);
    let (code, _, _) = aq(&["audit", bundle.to_str().unwrap(), "--log-key", &s.log_vkey]).await;
    assert_eq!(code, 2);
    s.ts.stop().await;
}
