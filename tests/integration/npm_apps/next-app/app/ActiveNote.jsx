"use client";

import { useSocketStatus } from "@vidai/socket-status";

export function ActiveNote() {
  const { active } = useSocketStatus(10000);
  return <p id="active-note">{active ? "Meeting room open" : "WebSocket unavailable."}</p>;
}
