// expect: TS2554
import { newWebSocketRpcSession } from "capnweb";
import type { Api } from "../api.js";

const api = newWebSocketRpcSession<Api>("ws://localhost:8080/");
await api.complete(1); // `at` is not optional
