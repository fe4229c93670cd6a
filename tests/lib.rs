//! End-to-end tests: sessions over real transports and interop with other implementations.
