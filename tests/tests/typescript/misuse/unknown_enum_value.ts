// expect: TS2345
import { newWebSocketRpcSession } from "capnweb";
import type { Api } from "../api.js";

const api = newWebSocketRpcSession<Api>("ws://localhost:8080/");
await api.add("milk", "HIGH"); // the priorities are LOW, NORMAL and RIGHT_NOW
