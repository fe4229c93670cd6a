// expect: TS2416
import { RpcTarget } from "capnweb";
import type { Listener } from "../api.js";

export class Printer extends RpcTarget implements Listener {
  onChange(change: string): void { // a change is a `Change`, not a string
    console.log(change);
  }

  seen(): number {
    return 0;
  }
}
