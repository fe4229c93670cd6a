// expect: TS2345
import { newWebSocketRpcSession } from "capnweb";
import type { Api } from "../api.js";

const api = newWebSocketRpcSession<Api>("ws://localhost:8080/");
await api.find("one"); // an id is a number
