//! The public port: the check API, forward-auth, the quota page and the gateway, over one
//! [`Gate`](crate::Gate), dispatched by path without a framework (the hot path carries no router's
//! overhead: two comparisons of the path choose the adapter).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tollgate_core::{Clock, SystemClock};

use crate::adapters::{check, forward_auth, gateway, portal};
use crate::app::App;

/// A response on its way, boxed: each adapter's future is boxed alone, at its own size.
type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<C: Clock + 'static> App<C> {
    /// Chooses the adapter of one request of the public port, from `peer`.
    fn dispatch<B>(app: Arc<Self>, peer: SocketAddr, request: Request<B>) -> Answer
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let (parts, body) = request.into_parts();
        let refused = |allow| -> Answer { Box::pin(std::future::ready(Ok(not_allowed(allow)))) };
        match (parts.uri.path(), &parts.method) {
            ("/v1/auth", &Method::GET | &Method::HEAD) => {
                Box::pin(
                    async move { Ok(forward_auth::forward_auth(&app, peer, &parts.headers).await) },
                )
            }
            ("/v1/auth", _) => refused("GET,HEAD"),
            ("/v1/check", &Method::POST) => {
                Box::pin(async move { Ok(check::check(&app, peer, body).await) })
            }
            ("/v1/check", _) => refused("POST"),
            (portal::PAGE, &Method::GET | &Method::HEAD) => Box::pin(async move {
                Ok(portal::own_quota(&app, peer, &parts.uri, &parts.headers).await)
            }),
            (portal::PAGE, _) => refused("GET,HEAD"),
            (portal::SIGN_IN, &Method::POST) => Box::pin(async move {
                Ok(portal::sign_in(&app, peer, &parts.uri, &parts.headers, body).await)
            }),
            (portal::SIGN_OUT, &Method::POST) => Box::pin(std::future::ready(Ok(
                portal::sign_out(&parts.uri, &parts.headers),
            ))),
            (portal::SIGN_IN | portal::SIGN_OUT, _) => refused("POST"),
            _ => Box::pin(
                async move { Ok(gateway::gateway(app, peer, parts, Body::new(body)).await) },
            ),
        }
    }
}

/// 405 for a method a Tollgate path does not serve.
fn not_allowed(allow: &'static str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The public port as a service: see [`router`].
#[derive(Debug)]
pub struct PublicPort<C: Clock = SystemClock> {
    app: Arc<App<C>>,
    /// The peer of the connection this port serves, when made for one; else each request's
    /// [`ConnectInfo`] says.
    peer: Option<SocketAddr>,
}

impl<C: Clock> Clone for PublicPort<C> {
    fn clone(&self) -> Self {
        Self {
            app: Arc::clone(&self.app),
            peer: self.peer,
        }
    }
}

impl<C: Clock> PublicPort<C> {
    /// The port for one connection from `peer` (no extension per request).
    pub(crate) fn serving(&self, peer: SocketAddr) -> Self {
        Self {
            app: Arc::clone(&self.app),
            peer: Some(peer),
        }
    }
}

/// The public port's service: `POST /v1/check`, `GET /v1/auth`, `GET /_tollgate/quota`, and
/// the gateway for every other path. The peer's address is read from the request's
/// [`ConnectInfo`] extension (the listener sets it); without one, the answer is a 500: every
/// client would otherwise share one address's limits.
pub fn router<C: Clock + 'static>(app: Arc<App<C>>) -> PublicPort<C> {
    PublicPort { app, peer: None }
}

impl<C, B> tower_service::Service<Request<B>> for PublicPort<C>
where
    C: Clock + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let app = Arc::clone(&self.app);
        let peer = self.peer.or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0)
        });
        let Some(peer) = peer else {
            tracing::error!(
                "a request without its peer's address: serve the port with ConnectInfo"
            );
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return Box::pin(std::future::ready(Ok(response)));
        };
        App::dispatch(app, peer, request)
    }
}
