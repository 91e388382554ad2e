// A Server Component: it renders the package's client components with
// serializable props; their "use client" makes them client references.
import { SocketStatusIndicator } from "@vidai/socket-status";

import { ActiveNote } from "./ActiveNote.jsx";

export default function Page() {
  return (
    <main>
      <h1>Consultations</h1>
      <SocketStatusIndicator compact intervalMs={10000} label="Sockets" />
      <SocketStatusIndicator label="WebSockets" />
      <ActiveNote />
    </main>
  );
}
