//! The local host: serves the Spin build of the server with wasmtime on a machine without
//! Spin, and provides what Spin would give it: WASI, Spin variables (defaults from
//! `spin.toml`, overridden with `--variable name=value` or `SPIN_VARIABLE_NAME`), and the
//! `default` key-value store (`spin:key-value@3.0.0` and `wasi:keyvalue@0.2.0-draft2`, one
//! store through both), kept in this process's memory and shared by every request, as
//! Spin's is. So `/sse`, sessions and everything else work as under `spin up`; the store
//! lasts as long as the process. Counters are kept as 8-byte little-endian integers, as
//! Spin's SQLite store keeps them.
//!
//! It serves either kind of Spin build, by what the component exports: the default
//! WASIp3 build (`wasi:http/handler@0.3.0-rc-2026-03-15`, the release candidate Spin 4.0
//! runs; instances reused, up to 16 requests at once in one, as in Spin) or the WASIp2
//! variant (`wasi:http/incoming-handler@0.2.x`; an instance per request).
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
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use wasmtime::component::{
    Accessor, Component, Linker, Resource, ResourceTable, ResourceType, Val,
};
use wasmtime::{AsContextMut, Config, Engine, Result, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::handler::{HandlerState, Proxy, ProxyHandler, StoreBundle};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode as P3ErrorCode;
use wasmtime_wasi_http::{p2, p3, WasiHttpCtx};

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

impl Instance {
    fn new(shared: &Arc<Shared>) -> Self {
        Instance {
            wasi: WasiCtx::builder().inherit_stderr().inherit_stdout().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            shared: shared.clone(),
            outbound: Outbound {
                allowed: shared.outbound.clone(),
            },
        }
    }
}

/// Spin's `allowed_outbound_hosts`: requests to other origins are denied.
struct Outbound {
    /// `scheme://host:port` of each allowed origin.
    allowed: Arc<Vec<String>>,
}

impl Outbound {
    /// Whether a request to `uri` may go out; says why not on stderr.
    fn allows(&self, uri: &http::Uri) -> bool {
        let target = origin(uri).unwrap_or_default();
        let allowed = self.allowed.contains(&target);
        if !allowed {
            eprintln!(
                "local-host: outbound request to {target} denied: not in allowed_outbound_hosts"
            );
        }
        allowed
    }
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

/// Outbound HTTP of WASIp2 components (`wasi:http/outgoing-handler`).
impl p2::WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: hyper::Request<p2::body::HyperOutgoingBody>,
        config: p2::types::OutgoingRequestConfig,
    ) -> p2::HttpResult<p2::types::HostFutureIncomingResponse> {
        if !self.allows(request.uri()) {
            return Err(p2::bindings::http::types::ErrorCode::HttpRequestDenied.into());
        }
        Ok(p2::default_send_request(request, config))
    }
}

/// The body of a WASIp3 request or response.
type P3Body = UnsyncBoxBody<Bytes, P3ErrorCode>;

/// Outbound HTTP of WASIp3 components (`wasi:http/client`).
impl p3::WasiHttpHooks for Outbound {
    #[allow(clippy::type_complexity)] // the trait's signature
    fn send_request(
        &mut self,
        request: http::Request<P3Body>,
        options: Option<p3::RequestOptions>,
        fut: Box<dyn Future<Output = std::result::Result<(), P3ErrorCode>> + Send>,
    ) -> Box<
        dyn Future<
                Output = std::result::Result<
                    (
                        http::Response<P3Body>,
                        Box<dyn Future<Output = std::result::Result<(), P3ErrorCode>> + Send>,
                    ),
                    wasmtime_wasi::TrappableError<P3ErrorCode>,
                >,
            > + Send,
    > {
        _ = fut;
        if !self.allows(request.uri()) {
            return Box::new(async { Err(P3ErrorCode::HttpRequestDenied.into()) });
        }
        Box::new(async move {
            let (response, io) = p3::default_send_request(request, options).await?;
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

impl p2::WasiHttpView for Instance {
    fn http(&mut self) -> p2::WasiHttpCtxView<'_> {
        p2::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl p3::WasiHttpView for Instance {
    fn http(&mut self) -> p3::WasiHttpCtxView<'_> {
        p3::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The `bucket` resource; every handle is the one shared store.
struct Bucket;

/// `spin:key-value`'s `store` resource: the same shared store.
struct SpinStore;

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

/// The function of a key-value method: the result, from the shared state and the
/// parameters (the first one the store's handle).
type Op = fn(&Shared, &[Val]) -> Result<Val>;

/// Releases the borrow of the store handle a method gets first (the dynamic API leaves
/// that to the host: taking the handle as a [`Resource`] releases it), then runs `op`.
fn store_call<R: 'static>(
    mut cx: impl AsContextMut<Data = Instance>,
    op: Op,
    params: &[Val],
) -> Result<Val> {
    let Val::Resource(handle) = &params[0] else {
        wasmtime::bail!("expected a store handle, got {:?}", params[0]);
    };
    Resource::<R>::try_from_resource_any(*handle, &mut cx)?;
    let shared = cx.as_context_mut().data().shared.clone();
    op(&shared, params)
}

/// Defines a method of `wasi:keyvalue`'s `bucket` (or a function taking one).
fn bucket_method(
    instance: &mut wasmtime::component::LinkerInstance<'_, Instance>,
    name: &str,
    op: Op,
) -> Result<()> {
    instance.func_new(name, move |cx, _, params, results| {
        results[0] = store_call::<Bucket>(cx, op, params)?;
        Ok(())
    })
}

/// Defines an `async` method of `spin:key-value`'s `store`. wasmtime 44 accepts only a
/// concurrent host function for an `async func` import; this one answers at once.
fn spin_method(
    instance: &mut wasmtime::component::LinkerInstance<'_, Instance>,
    name: &str,
    op: Op,
) -> Result<()> {
    instance.func_new_concurrent(name, move |accessor, _, params, results| {
        Box::pin(async move {
            results[0] = accessor.with(|access| store_call::<SpinStore>(access, op, params))?;
            Ok(())
        })
    })
}

fn list(data: Vec<u8>) -> Val {
    Val::List(data.into_iter().map(Val::U8).collect())
}

fn strings(val: &Val) -> Result<Vec<String>> {
    match val {
        Val::List(items) => items.iter().map(string).collect(),
        other => wasmtime::bail!("expected list<string>, got {other:?}"),
    }
}

/// `open` of either interface: only the stores the manifest lists, of which only
/// `default` exists.
fn open_store<R: 'static>(
    mut cx: impl AsContextMut<Data = Instance>,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    let name = string(&params[0])?;
    let listed = cx.as_context_mut().data().shared.stores.contains(&name);
    results[0] = if !listed {
        // What Spin answers for a store missing from key_value_stores.
        kv_error("access-denied", None)
    } else if name != "default" {
        kv_error("no-such-store", None)
    } else {
        let handle = Resource::<R>::new_own(0).try_into_resource_any(&mut cx)?;
        ok(Some(Val::Resource(handle)))
    };
    Ok(())
}

// The operations both interfaces share (same parameters after the handle, same results):
// one store, seen through `wasi:keyvalue` and `spin:key-value`.

fn get(shared: &Shared, params: &[Val]) -> Result<Val> {
    let value = shared
        .store
        .lock()
        .unwrap()
        .get(&string(&params[1])?)
        .cloned();
    Ok(ok(Some(Val::Option(value.map(|v| Box::new(list(v)))))))
}

fn set(shared: &Shared, params: &[Val]) -> Result<Val> {
    let (key, value) = (string(&params[1])?, bytes(&params[2])?);
    shared.store.lock().unwrap().insert(key, value);
    Ok(ok(None))
}

fn delete(shared: &Shared, params: &[Val]) -> Result<Val> {
    shared.store.lock().unwrap().remove(&string(&params[1])?);
    Ok(ok(None))
}

fn exists(shared: &Shared, params: &[Val]) -> Result<Val> {
    let exists = shared
        .store
        .lock()
        .unwrap()
        .contains_key(&string(&params[1])?);
    Ok(ok(Some(Val::Bool(exists))))
}

/// `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2` and `spin:key-value@3.0.0`, through
/// the dynamic linker API (no WIT needed): the functions receive and return component
/// values.
fn add_keyvalue(linker: &mut Linker<Instance>) -> Result<()> {
    let mut store = linker.instance("wasi:keyvalue/store@0.2.0-draft2")?;
    store.resource("bucket", ResourceType::host::<Bucket>(), |_, _| Ok(()))?;
    store.func_new("open", |cx, _, params, results| {
        open_store::<Bucket>(cx, params, results)
    })?;
    bucket_method(&mut store, "[method]bucket.get", get)?;
    bucket_method(&mut store, "[method]bucket.set", set)?;
    bucket_method(&mut store, "[method]bucket.delete", delete)?;
    bucket_method(&mut store, "[method]bucket.exists", exists)?;
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

    let mut batch = linker.instance("wasi:keyvalue/batch@0.2.0-draft2")?;
    bucket_method(&mut batch, "get-many", |shared, params| {
        let store = shared.store.lock().unwrap();
        let found = strings(&params[1])?
            .into_iter()
            .map(|key| {
                let value = store.get(&key).cloned().map(|v| Box::new(list(v)));
                Val::Tuple(vec![Val::String(key), Val::Option(value)])
            })
            .collect();
        Ok(ok(Some(Val::List(found))))
    })?;
    bucket_method(&mut batch, "set-many", |shared, params| {
        let Val::List(pairs) = &params[1] else {
            wasmtime::bail!("set-many: expected a list of pairs");
        };
        let mut store = shared.store.lock().unwrap();
        for pair in pairs {
            let Val::Tuple(pair) = pair else {
                wasmtime::bail!("set-many: expected a pair, got {pair:?}");
            };
            store.insert(string(&pair[0])?, bytes(&pair[1])?);
        }
        Ok(ok(None))
    })?;
    bucket_method(&mut batch, "delete-many", |shared, params| {
        let mut store = shared.store.lock().unwrap();
        for key in strings(&params[1])? {
            store.remove(&key);
        }
        Ok(ok(None))
    })?;

    // Spin's own interface, whose functions are `async`.
    let mut spin = linker.instance("spin:key-value/key-value@3.0.0")?;
    spin.resource("store", ResourceType::host::<SpinStore>(), |_, _| Ok(()))?;
    spin.func_new_concurrent("[static]store.open", |accessor, _, params, results| {
        Box::pin(
            async move { accessor.with(|access| open_store::<SpinStore>(access, params, results)) },
        )
    })?;
    spin_method(&mut spin, "[method]store.get", get)?;
    spin_method(&mut spin, "[method]store.set", set)?;
    spin_method(&mut spin, "[method]store.delete", delete)?;
    spin_method(&mut spin, "[method]store.exists", exists)?;
    // It returns a stream of keys, which the dynamic API cannot build simply; the server
    // never calls it (it lists keys, rarely, through `wasi:keyvalue`), so it traps.
    spin.func_new_concurrent("[method]store.get-keys", |_, _, _, _| {
        Box::pin(async {
            wasmtime::bail!("spin:key-value get-keys is not provided by the local host")
        })
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

/// How the component is served, by what it exports.
enum Handler {
    /// `wasi:http/incoming-handler@0.2.x`: an instance per request.
    P2(p2::bindings::ProxyPre<Instance>),
    /// `wasi:http/handler@0.3.0-rc-2026-03-15`: instances reused, each serving up to
    /// [`P3_CONCURRENT`] requests at once, as Spin 4.0 serves them.
    P3(ProxyHandler<P3State>),
}

/// Spin's defaults for WASIp3 instance reuse (and wasmtime serve's).
const P3_REUSE: usize = 128;
const P3_CONCURRENT: usize = 16;
const P3_IDLE: Duration = Duration::from_secs(1);

/// How long a reused instance keeps running after a client hung up on its response, so
/// that the component, told at once through the response's delivery future, can clean up
/// (an event stream unregisters itself from the store) before the instance may be dropped.
const HANG_UP_GRACE: Duration = Duration::from_secs(1);

/// What [`ProxyHandler`] needs to make stores for WASIp3 instances.
struct P3State {
    engine: Engine,
    shared: Arc<Shared>,
}

impl HandlerState for P3State {
    type StoreData = Instance;

    fn new_store(&self, _: Option<u64>) -> Result<StoreBundle<Instance>> {
        Ok(StoreBundle {
            store: Store::new(&self.engine, Instance::new(&self.shared)),
            write_profile: Box::new(|_| ()),
        })
    }

    /// None, as in Spin: event streams stay open as long as their clients.
    fn request_timeout(&self) -> Duration {
        Duration::MAX
    }

    fn idle_instance_timeout(&self) -> Duration {
        P3_IDLE
    }

    fn max_instance_reuse_count(&self) -> usize {
        P3_REUSE
    }

    fn max_instance_concurrent_reuse_count(&self) -> usize {
        P3_CONCURRENT
    }

    fn handle_worker_error(&self, error: wasmtime::Error) {
        eprintln!("local-host: instance failed: {error:#}");
    }
}

/// What the local host answers with, from either kind of component.
type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn boxed<B>(body: B) -> Body
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Debug,
{
    body.map_err(|e| format!("{e:?}").into()).boxed_unsync()
}

/// A WASIp3 response body that reports, once hyper is done with it, whether it was
/// delivered whole (`true`) or dropped early, the client gone (`false`).
struct Delivery {
    body: P3Body,
    done: Option<watch::Sender<Option<bool>>>,
}

impl Delivery {
    fn finish(&mut self, delivered: bool) {
        if let Some(done) = self.done.take() {
            done.send_replace(Some(delivered));
        }
    }
}

impl hyper::body::Body for Delivery {
    type Data = Bytes;
    type Error = P3ErrorCode;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, P3ErrorCode>>> {
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => self.finish(true),
            Poll::Ready(Some(Err(_))) => self.finish(false),
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // hyper stops polling a body once it says it has ended.
        let ended = hyper::body::Body::is_end_stream(&self.body);
        self.finish(ended);
    }
}

/// Resolves when the response has been delivered (`true`) or abandoned (`false`).
async fn delivered(mut done: watch::Receiver<Option<bool>>) -> bool {
    match done.wait_for(Option::is_some).await {
        Ok(value) => value.unwrap_or(false),
        Err(_) => false,
    }
}

/// Serves one request with a WASIp3 instance (run by [`ProxyHandler`], possibly alongside
/// other requests in the same instance): the response goes to `reply` as soon as the
/// component returns it, its body streaming on; this returns once the body has been
/// delivered or abandoned.
async fn serve_p3(
    accessor: &Accessor<Instance>,
    proxy: &Proxy,
    request: http::Request<P3Body>,
    reply: oneshot::Sender<Result<hyper::Response<Body>>>,
) -> Result<()> {
    let Proxy::P3(service) = proxy else {
        wasmtime::bail!("not a WASIp3 instance");
    };
    let (request, _request_io) = p3::Request::from_http(request);
    let response = match service.handle(accessor, request).await? {
        Ok(response) => response,
        Err(code) => {
            _ = reply.send(Err(wasmtime::format_err!(
                "the component answered with an error: {code:?}"
            )));
            return Ok(());
        }
    };
    // The component learns through this future whether its response got through: a
    // client hanging up on an event stream is noticed at once.
    let (done, watch) = watch::channel(None);
    let outcome = delivered(watch.clone());
    let response = accessor.with(|mut store| {
        response.into_http(&mut store, async move {
            match outcome.await {
                true => Ok(()),
                false => Err(P3ErrorCode::ConnectionTerminated),
            }
        })
    })?;
    let response = response.map(|body| {
        boxed(Delivery {
            body,
            done: Some(done),
        })
    });
    if reply.send(Ok(response)).is_err() {
        // hyper no longer waits (the connection closed): the response was dropped.
    }
    if !delivered(watch).await {
        tokio::time::sleep(HANG_UP_GRACE).await;
    }
    Ok(())
}

struct Server {
    handler: Handler,
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
    fn store_stats(&self) -> hyper::Response<Body> {
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
            .body(boxed(http_body_util::Full::new(Bytes::from(body))))
            .expect("a valid response")
    }

    async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<Body>> {
        if self.store_stats && request.uri().path() == STORE_STATS {
            return Ok(self.store_stats());
        }
        match &self.handler {
            Handler::P2(pre) => self.handle_p2(pre, request).await,
            Handler::P3(handler) => {
                let (reply, response) = oneshot::channel();
                let request = with_authority(request)?.map(|body| {
                    body.map_err(P3ErrorCode::from_hyper_request_error)
                        .boxed_unsync()
                });
                handler.spawn(
                    None,
                    Box::new(move |accessor, proxy| {
                        Box::pin(async move {
                            if let Err(e) = serve_p3(accessor, proxy, request, reply).await {
                                eprintln!("local-host: request failed: {e:#}");
                            }
                        })
                    }),
                );
                match response.await {
                    Ok(response) => response,
                    Err(_) => wasmtime::bail!("the component never set a response"),
                }
            }
        }
    }
}

/// The request with an absolute URI, as Spin passes it on: a server sees only the path,
/// so the scheme is `http` and the authority the `Host` header's (a WASIp2 request takes
/// its authority from that header by itself).
fn with_authority<B>(request: hyper::Request<B>) -> Result<hyper::Request<B>> {
    let (mut parts, body) = request.into_parts();
    if parts.uri.authority().is_none() {
        let host = parts
            .headers
            .get(http::header::HOST)
            .ok_or_else(|| wasmtime::format_err!("a request without a Host header"))?
            .to_str()?;
        let mut uri = http::uri::Parts::from(parts.uri);
        uri.scheme = Some(http::uri::Scheme::HTTP);
        uri.authority = Some(host.parse()?);
        if uri.path_and_query.is_none() {
            uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
        parts.uri = http::Uri::from_parts(uri)?;
    }
    Ok(hyper::Request::from_parts(parts, body))
}

impl Server {
    async fn handle_p2(
        &self,
        pre: &p2::bindings::ProxyPre<Instance>,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<Body>> {
        use p2::WasiHttpView;
        let mut store = Store::new(pre.engine(), Instance::new(&self.shared));
        let (sender, receiver) = oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = pre.clone();
        // The instance may run on after the response head is sent (event streams).
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response.map(boxed)),
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
        .wasm_component_model_async(true)
        .concurrency_support(true)
        .memory_reservation(1 << 30)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    config
}

const USAGE: &str = "\
usage: local-host [--listen HOST:PORT] [--from spin.toml] [--variable NAME=VALUE]...
                  [--store-stats] [COMPONENT.wasm]

Serves the Spin build of remote-mcp-server (WASIp3 or WASIp2) with wasmtime, where Spin
is not installed: variables from spin.toml (override with --variable or
SPIN_VARIABLE_NAME), and the `default` key-value store in memory. Ctrl-C stops it.

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
    // WASIp2 (Rust std's imports, and everything a WASIp2 component uses) and WASIp3 as
    // Spin 4.0 provides it; each component takes what it imports.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    add_keyvalue(&mut linker)?;
    add_variables(&mut linker)?;
    let pre = linker.instantiate_pre(&component)?;
    let shared = Arc::new(Shared {
        store: Mutex::new(BTreeMap::new()),
        variables: manifest.variables,
        stores: manifest.stores,
        outbound: Arc::new(manifest.outbound),
    });
    // By the export: `wasi:http/handler@0.3.0-rc-2026-03-15`, else the WASIp2 handler.
    let (handler, kind) = match p3::bindings::ServicePre::new(pre.clone()) {
        Ok(pre) => (
            Handler::P3(ProxyHandler::new(
                P3State {
                    engine: engine.clone(),
                    shared: shared.clone(),
                },
                wasmtime_wasi_http::handler::ProxyPre::P3(pre),
            )),
            "WASIp3",
        ),
        Err(p3_error) => match p2::bindings::ProxyPre::new(pre) {
            Ok(pre) => (Handler::P2(pre), "WASIp2"),
            Err(p2_error) => wasmtime::bail!(
                "{wasm} exports neither wasi:http/handler@0.3.0-rc-2026-03-15 ({p3_error}) \
                 nor wasi:http/incoming-handler@0.2 ({p2_error})"
            ),
        },
    };
    let server = Arc::new(Server {
        handler,
        shared,
        store_stats: options.store_stats,
    });

    let listener = TcpListener::bind(&options.listen)
        .await
        .map_err(|e| wasmtime::format_err!("cannot listen on {}: {e}", options.listen))?;
    // The same line `spin up` prints, which scripts and tests wait for.
    println!("Serving http://{}", listener.local_addr()?);
    println!("local-host: {wasm} ({kind}), key-value store `default` in memory; Ctrl-C stops");
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
                    match server.handle(request).await {
                        Ok(response) => Ok::<_, std::convert::Infallible>(response),
                        // As Spin answers when its component fails (a trap, no response).
                        Err(e) => {
                            eprintln!("local-host: request failed: {e:#}");
                            Ok(hyper::Response::builder()
                                .status(500)
                                .body(boxed(http_body_util::Full::new(Bytes::from_static(
                                    b"Internal Server Error",
                                ))))
                                .expect("a valid response"))
                        }
                    }
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
