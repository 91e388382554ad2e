// A wrong prop type, as a user might write it: this must not compile.
import { SocketStatusIndicator } from "@vidai/socket-status";

export function Header() {
  return <SocketStatusIndicator compact="yes" />;
}
