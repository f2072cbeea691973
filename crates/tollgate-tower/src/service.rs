//! The service: a request decided, then served by the inner service or refused.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use tollgate_core::{Clock, SystemClock};
use tollgate_gate::Gate;
use tollgate_http::edge;

/// A service whose requests pass a Tollgate policy first: see the [crate] docs.
#[derive(Debug)]
pub struct RateLimit<S, C: Clock = SystemClock> {
    inner: S,
    gate: Arc<Gate<C>>,
}

impl<S: Clone, C: Clock> Clone for RateLimit<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<S, C: Clock> RateLimit<S, C> {
    /// `inner`, its requests decided by `gate`.
    pub fn new(inner: S, gate: Arc<Gate<C>>) -> Self {
        Self { inner, gate }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, to change.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, B, ResBody> tower_service::Service<Request<B>> for RateLimit<S, C>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    C: Clock + 'static,
    B: Send + 'static,
    ResBody: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready serves this request; a clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = Arc::clone(&self.gate);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let peer = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip());
            let admission = match edge::admit(&gate, &parts, peer).await {
                Ok(admission) => admission,
                Err(refusal) => return Ok(refusal),
            };
            let response = inner.call(Request::from_parts(parts, body)).await?;
            let (mut parts, body) = response.into_parts();
            edge::add_headers(&admission, &mut parts.headers);
            // Refunds as the limits say for this status; slots held until the body is done.
            let held = admission.settle(parts.status.as_u16()).await;
            let body = body.map_frame(move |frame| {
                let _held = &held;
                frame
            });
            Ok(Response::from_parts(parts, Body::new(body)))
        })
    }
}
