// expect: TS2339
import { newWebSocketRpcSession } from "capnweb";
import type { Api } from "../api.js";

const api = newWebSocketRpcSession<Api>("ws://localhost:8080/");
await api.remove(1); // there is no `remove`
