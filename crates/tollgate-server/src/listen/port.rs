//! A port's service, made for each connection with its peer's address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use tower_service::Service;

/// A port's service, made for each connection from its peer's address.
pub(crate) trait Port: Clone + Send + 'static {
    /// The service of one connection.
    type Connection: Service<
            hyper::Request<Incoming>,
            Response = axum::response::Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static;

    /// The service for a connection from `peer`.
    fn for_peer(&self, peer: SocketAddr) -> Self::Connection;
}

impl<C: tollgate_core::Clock + 'static> Port for crate::PublicPort<C> {
    type Connection = Self;

    fn for_peer(&self, peer: SocketAddr) -> Self {
        self.serving(peer)
    }
}

impl Port for axum::Router {
    type Connection = WithPeer;

    fn for_peer(&self, peer: SocketAddr) -> WithPeer {
        WithPeer(self.clone(), peer)
    }
}

/// A router whose requests carry their peer's address as axum's `ConnectInfo` reads it.
#[derive(Debug, Clone)]
pub(crate) struct WithPeer(axum::Router, SocketAddr);

impl Service<hyper::Request<Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = <axum::Router as Service<hyper::Request<Incoming>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<hyper::Request<Incoming>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.1));
        self.0.call(request)
    }
}
