import "@vidai/socket-status/SocketStatusIndicator.css";

export const metadata = { title: "Next.js using @vidai/socket-status" };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
