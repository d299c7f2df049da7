//! Request rate limits: one middleware over the domain's `RateLimiter`; the counters behind it
//! (in process or Redis) are chosen by the composition root.

mod client_ip;
mod middleware;

pub use client_ip::{ClientIp, TrustedProxies, client_of};
pub use middleware::middleware;
pub use user_service_domain::services::{Decision, RateLimiter};
