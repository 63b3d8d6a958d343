//! The local host: serves the Spin build of the server with wasmtime on a machine without
//! Spin, and provides what Spin would give it: WASI, Spin variables (defaults from
//! `spin.toml`, overridden with `--variable name=value` or `SPIN_VARIABLE_NAME`), and the
//! `default` key-value store (`wasi:keyvalue@0.2.0-draft2`), kept in this process's memory
//! and shared by every request, as Spin's is. So `/sse`, sessions and everything else work
//! as under `spin up`; the store lasts as long as the process. Counters are kept as 8-byte
//! little-endian integers, as Spin's SQLite store keeps them.
//!
//! Outbound HTTP goes only to the origins in the component's `allowed_outbound_hosts`
//! (variable templates resolved), as in Spin; anything else is denied.
//!
//! `scripts/serve` runs it when `spin` is not on `PATH`; the tests run the Spin build under
//! it as well as under the real Spin. It is not Spin: a deployment runs `spin up`.
//!
//! ```text
//! local-host [--listen 127.0.0.1:3000] [--from spin.toml] [--variable name=value]...
//!            [--store-stats] [component.wasm]
//! ```

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use hyper::server::conn::http1;
use tokio::net::TcpListener;
use wasmtime::component::{Component, Linker, Resource, ResourceTable, ResourceType, Val};
use wasmtime::{Config, Engine, Result, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// What every request's instance shares: the store and the resolved variables.
struct Shared {
    store: Mutex<BTreeMap<String, Vec<u8>>>,
    variables: HashMap<String, String>,
    stores: Vec<String>,
    outbound: Arc<Vec<String>>,
}

struct Instance {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    shared: Arc<Shared>,
    outbound: Outbound,
}

/// Spin's `allowed_outbound_hosts`: requests to other origins are denied.
struct Outbound {
    /// `scheme://host:port` of each allowed origin.
    allowed: Arc<Vec<String>>,
}

/// `scheme://host:port`, with the scheme's default port filled in.
fn origin(uri: &http::Uri) -> Option<String> {
    let scheme = uri.scheme_str()?;
    let port = uri.port_u16().or(match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(format!("{scheme}://{}:{port}", uri.host()?))
}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        _ = fut;
        let target = origin(request.uri()).unwrap_or_default();
        if !self.allowed.contains(&target) {
            eprintln!(
                "local-host: outbound request to {target} denied: not in allowed_outbound_hosts"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

impl WasiView for Instance {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Instance {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The `bucket` resource; every handle is the one shared store.
struct Bucket;

fn ok(value: Option<Val>) -> Val {
    Val::Result(Ok(value.map(Box::new)))
}

fn kv_error(case: &str, detail: Option<String>) -> Val {
    Val::Result(Err(Some(Box::new(Val::Variant(
        case.into(),
        detail.map(|d| Box::new(Val::String(d))),
    )))))
}

fn string(val: &Val) -> Result<String> {
    match val {
        Val::String(s) => Ok(s.clone()),
        other => wasmtime::bail!("expected a string, got {other:?}"),
    }
}

fn bytes(val: &Val) -> Result<Vec<u8>> {
    match val {
        Val::List(items) => items
            .iter()
            .map(|v| match v {
                Val::U8(b) => Ok(*b),
                other => wasmtime::bail!("expected u8, got {other:?}"),
            })
            .collect(),
        other => wasmtime::bail!("expected list<u8>, got {other:?}"),
    }
}

/// Defines a function whose first parameter borrows the bucket: `op` computes the result
/// from the shared state, then the borrow is released, which the dynamic API leaves to
/// the host (asynchronously, as the store runs async).
fn bucket_method(
    instance: &mut wasmtime::component::LinkerInstance<'_, Instance>,
    name: &str,
    op: fn(&Shared, &[Val]) -> Result<Val>,
) -> Result<()> {
    instance.func_new_async(name, move |mut cx, _, params, results| {
        Box::new(async move {
            let shared = cx.data().shared.clone();
            results[0] = op(&shared, params)?;
            match &params[0] {
                Val::Resource(bucket) => bucket.resource_drop_async(&mut cx).await,
                other => wasmtime::bail!("expected a bucket, got {other:?}"),
            }
        })
    })
}

fn list(data: Vec<u8>) -> Val {
    Val::List(data.into_iter().map(Val::U8).collect())
}

/// `wasi:keyvalue/{store,atomics}@0.2.0-draft2`, through the dynamic linker API (no WIT
/// needed): the functions receive and return component values.
fn add_keyvalue(linker: &mut Linker<Instance>) -> Result<()> {
    let mut store = linker.instance("wasi:keyvalue/store@0.2.0-draft2")?;
    store.resource("bucket", ResourceType::host::<Bucket>(), |_, _| Ok(()))?;
    store.func_new("open", |mut cx, _, params, results| {
        let name = string(&params[0])?;
        results[0] = if !cx.data().shared.stores.contains(&name) {
            // What Spin answers for a store missing from key_value_stores.
            kv_error("access-denied", None)
        } else if name != "default" {
            kv_error("no-such-store", None)
        } else {
            let handle = Resource::<Bucket>::new_own(0).try_into_resource_any(&mut cx)?;
            ok(Some(Val::Resource(handle)))
        };
        Ok(())
    })?;
    bucket_method(&mut store, "[method]bucket.get", |shared, params| {
        let value = shared
            .store
            .lock()
            .unwrap()
            .get(&string(&params[1])?)
            .cloned();
        Ok(ok(Some(Val::Option(value.map(|v| Box::new(list(v)))))))
    })?;
    bucket_method(&mut store, "[method]bucket.set", |shared, params| {
        let (key, value) = (string(&params[1])?, bytes(&params[2])?);
        shared.store.lock().unwrap().insert(key, value);
        Ok(ok(None))
    })?;
    bucket_method(&mut store, "[method]bucket.delete", |shared, params| {
        shared.store.lock().unwrap().remove(&string(&params[1])?);
        Ok(ok(None))
    })?;
    bucket_method(&mut store, "[method]bucket.exists", |shared, params| {
        let exists = shared
            .store
            .lock()
            .unwrap()
            .contains_key(&string(&params[1])?);
        Ok(ok(Some(Val::Bool(exists))))
    })?;
    bucket_method(&mut store, "[method]bucket.list-keys", |shared, _| {
        let keys = shared
            .store
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .map(Val::String)
            .collect();
        Ok(ok(Some(Val::Record(vec![
            ("keys".into(), Val::List(keys)),
            ("cursor".into(), Val::Option(None)),
        ]))))
    })?;

    let mut atomics = linker.instance("wasi:keyvalue/atomics@0.2.0-draft2")?;
    bucket_method(&mut atomics, "increment", |shared, params| {
        let key = string(&params[1])?;
        let Val::S64(delta) = params[2] else {
            wasmtime::bail!("increment: delta must be s64");
        };
        let mut store = shared.store.lock().unwrap();
        let current = match store.get(&key) {
            None => 0,
            Some(v) => i64::from_le_bytes(v.as_slice().try_into().map_err(|_| {
                wasmtime::format_err!("increment: {key} does not hold an 8-byte counter")
            })?),
        };
        let next = current + delta;
        store.insert(key, next.to_le_bytes().to_vec());
        Ok(ok(Some(Val::S64(next))))
    })?;
    Ok(())
}

/// `wasi:config/store@0.2.0-draft-2024-09-27`, through which Spin 3 and later give a
/// component its variables (`fermyon:spin/variables@2.0.0` too, for older components).
fn add_variables(linker: &mut Linker<Instance>) -> Result<()> {
    let mut config = linker.instance("wasi:config/store@0.2.0-draft-2024-09-27")?;
    config.func_new("get", |cx, _, params, results| {
        let name = string(&params[0])?;
        let value = cx.data().shared.variables.get(&name).cloned();
        results[0] = ok(Some(Val::Option(value.map(|v| Box::new(Val::String(v))))));
        Ok(())
    })?;
    config.func_new("get-all", |cx, _, _, results| {
        let mut all: Vec<_> = cx.data().shared.variables.iter().collect();
        all.sort();
        let pairs = all
            .into_iter()
            .map(|(name, value)| {
                Val::Tuple(vec![Val::String(name.clone()), Val::String(value.clone())])
            })
            .collect();
        results[0] = ok(Some(Val::List(pairs)));
        Ok(())
    })?;
    let mut variables = linker.instance("fermyon:spin/variables@2.0.0")?;
    variables.func_new("get", |cx, _, params, results| {
        let name = string(&params[0])?;
        results[0] = match cx.data().shared.variables.get(&name) {
            Some(value) => ok(Some(Val::String(value.clone()))),
            None => Val::Result(Err(Some(Box::new(Val::Variant(
                "undefined".into(),
                Some(Box::new(Val::String(format!("no variable for {name:?}")))),
            ))))),
        };
        Ok(())
    })?;
    Ok(())
}

/// What `spin.toml` says about the component, with `{{ name }}` templates resolved
/// against the application's variables.
struct Manifest {
    source: String,
    stores: Vec<String>,
    variables: HashMap<String, String>,
    /// Allowed outbound origins, `scheme://host:port`.
    outbound: Vec<String>,
}

fn read_manifest(path: &str, overrides: &HashMap<String, String>) -> Result<Manifest> {
    let manifest: toml::Table = std::fs::read_to_string(path)?.parse()?;
    let mut app = HashMap::new();
    for (name, declaration) in manifest
        .get("variables")
        .and_then(|v| v.as_table())
        .into_iter()
        .flatten()
    {
        let value = overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(format!("SPIN_VARIABLE_{}", name.to_uppercase())).ok())
            .or_else(|| {
                declaration
                    .get("default")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            });
        match value {
            Some(value) => app.insert(name.clone(), value),
            None => wasmtime::bail!("variable {name} is required and has no value"),
        };
    }
    let components = manifest["component"]
        .as_table()
        .ok_or_else(|| wasmtime::format_err!("no [component]"))?;
    let (_, component) = components
        .iter()
        .next()
        .ok_or_else(|| wasmtime::format_err!("no component"))?;
    let source = component["source"].as_str().unwrap_or_default().to_string();
    let stores = component
        .get("key_value_stores")
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let resolve = |template: &str| -> Result<String> {
        let template = template.trim();
        match template
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
        {
            Some(reference) => app.get(reference.trim()).cloned().ok_or_else(|| {
                wasmtime::format_err!("{template} refers to an undeclared variable")
            }),
            None => Ok(template.to_string()),
        }
    };
    let mut variables = HashMap::new();
    for (name, template) in component
        .get("variables")
        .and_then(|v| v.as_table())
        .into_iter()
        .flatten()
    {
        variables.insert(
            name.clone(),
            resolve(template.as_str().unwrap_or_default())?,
        );
    }
    let mut outbound = Vec::new();
    for host in component
        .get("allowed_outbound_hosts")
        .and_then(|h| h.as_array())
        .into_iter()
        .flatten()
    {
        let resolved = resolve(host.as_str().unwrap_or_default())?;
        if resolved.is_empty() {
            continue;
        }
        let uri: http::Uri = resolved
            .parse()
            .map_err(|e| wasmtime::format_err!("allowed_outbound_hosts entry {resolved:?}: {e}"))?;
        outbound.push(origin(&uri).ok_or_else(|| {
            wasmtime::format_err!("allowed_outbound_hosts entry {resolved:?} is not scheme://host")
        })?);
    }
    Ok(Manifest {
        source,
        stores,
        variables,
        outbound,
    })
}

struct Server {
    pre: ProxyPre<Instance>,
    shared: Arc<Shared>,
    /// Whether [`STORE_STATS`] is served.
    store_stats: bool,
}

/// Not part of the component, served only with `--store-stats`: how many keys the shared
/// store holds, by prefix (the part before the first `:`; quota counters at zero apart, as
/// `quota-zero`), for the soak test to see that the store does not grow. No key or value
/// is shown.
const STORE_STATS: &str = "/__local-host/store";

impl Server {
    fn store_stats(&self) -> hyper::Response<HyperOutgoingBody> {
        use http_body_util::BodyExt;
        let store = self.shared.store.lock().unwrap_or_else(|e| e.into_inner());
        let mut prefixes: BTreeMap<&str, usize> = BTreeMap::new();
        for (key, value) in store.iter() {
            let mut prefix = key.split(':').next().unwrap_or_default();
            // Quota counters at zero count nothing; they go once their epoch has passed.
            if prefix == "quota" && value.as_slice() == 0i64.to_le_bytes() {
                prefix = "quota-zero";
            }
            *prefixes.entry(prefix).or_default() += 1;
        }
        let body = format!(
            "{{\"keys\":{},\"prefixes\":{{{}}}}}",
            store.len(),
            prefixes
                .iter()
                .map(|(p, n)| format!("{p:?}:{n}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        hyper::Response::builder()
            .header("content-type", "application/json")
            .body(
                http_body_util::Full::new(hyper::body::Bytes::from(body))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .expect("a valid response")
    }

    async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        if self.store_stats && request.uri().path() == STORE_STATS {
            return Ok(self.store_stats());
        }
        let mut store = Store::new(
            self.pre.engine(),
            Instance {
                wasi: WasiCtx::builder().inherit_stderr().inherit_stdout().build(),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                shared: self.shared.clone(),
                outbound: Outbound {
                    allowed: self.shared.outbound.clone(),
                },
            },
        );
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        // The instance may run on after the response head is sent (event streams).
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => match task.await {
                Ok(Ok(())) => wasmtime::bail!("the component never set a response"),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// Instances come from a pool whose memory stays resident between requests, as Spin
/// configures wasmtime: an instance per request is then cheap. Sized for the soak test and
/// the benchmarks' hundreds of open event streams.
fn engine_config() -> Config {
    // A component instance holds several core instances and tables, one memory.
    const INSTANCES: u32 = 4000;
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(INSTANCES)
        .total_core_instances(4 * INSTANCES)
        .total_memories(INSTANCES)
        .total_tables(4 * INSTANCES)
        .total_stacks(INSTANCES)
        .max_memory_size(1 << 30)
        .linear_memory_keep_resident(16 << 20)
        .table_keep_resident(1 << 20);
    let mut config = Config::new();
    config
        .memory_reservation(1 << 30)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    config
}

const USAGE: &str = "\
usage: local-host [--listen HOST:PORT] [--from spin.toml] [--variable NAME=VALUE]...
                  [--store-stats] [COMPONENT.wasm]

Serves the Spin build of remote-mcp-server with wasmtime, where Spin is not installed:
variables from spin.toml (override with --variable or SPIN_VARIABLE_NAME), and the
`default` key-value store in memory. Ctrl-C stops it.

  --listen HOST:PORT      address to serve on (default 127.0.0.1:3000)
  --from PATH             the Spin manifest (default spin.toml)
  --variable NAME=VALUE   set an application variable (repeatable)
  --store-stats           also serve GET /__local-host/store: key counts by prefix (tests)
  COMPONENT.wasm          the component (default: the manifest's source)";

/// What the command line asks for.
struct Options {
    listen: String,
    manifest: String,
    variables: HashMap<String, String>,
    store_stats: bool,
    wasm: Option<String>,
}

fn options() -> std::result::Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:3000".into(),
        manifest: "spin.toml".into(),
        variables: HashMap::new(),
        store_stats: false,
        wasm: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "--listen" => options.listen = value("HOST:PORT")?,
            "--from" | "-f" => options.manifest = value("a manifest path")?,
            "--variable" => {
                let pair = value("NAME=VALUE")?;
                let (name, value) = pair
                    .split_once('=')
                    .ok_or(format!("--variable {pair}: expected NAME=VALUE"))?;
                options.variables.insert(name.into(), value.into());
            }
            "--store-stats" => options.store_stats = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path => options.wasm = Some(path.into()),
        }
    }
    Ok(options)
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM from a supervisor).
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("local-host: {e}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-host: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<()> {
    let manifest = read_manifest(&options.manifest, &options.variables)
        .map_err(|e| wasmtime::format_err!("{}: {e}", options.manifest))?;
    let wasm = options.wasm.unwrap_or(manifest.source);

    let engine = Engine::new(&engine_config())?;
    let component = Component::from_file(&engine, &wasm).map_err(|e| {
        wasmtime::format_err!(
            "{wasm}: {e} (build it with `cargo build --target wasm32-wasip2 --release`)"
        )
    })?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    add_keyvalue(&mut linker)?;
    add_variables(&mut linker)?;
    let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
    let server = Arc::new(Server {
        pre,
        shared: Arc::new(Shared {
            store: Mutex::new(BTreeMap::new()),
            variables: manifest.variables,
            stores: manifest.stores,
            outbound: Arc::new(manifest.outbound),
        }),
        store_stats: options.store_stats,
    });

    let listener = TcpListener::bind(&options.listen)
        .await
        .map_err(|e| wasmtime::format_err!("cannot listen on {}: {e}", options.listen))?;
    // The same line `spin up` prints, which scripts and tests wait for.
    println!("Serving http://{}", listener.local_addr()?);
    println!("local-host: {wasm}, key-value store `default` in memory; Ctrl-C stops");
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let (connection, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            signal = &mut stop => {
                // Open event streams end with the process; clients reconnect elsewhere.
                println!("local-host: {signal}, stopping");
                return Ok(());
            }
        };
        let server = server.clone();
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let server = server.clone();
                async move {
                    let response = server.handle(request).await;
                    if let Err(e) = &response {
                        eprintln!("local-host: request failed: {e:#}");
                    }
                    response
                }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(connection), service)
                .await
            {
                if !e.is_incomplete_message() {
                    eprintln!("local-host: connection error: {e}");
                }
            }
        });
    }
}
