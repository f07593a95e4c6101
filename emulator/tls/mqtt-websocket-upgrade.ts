/**
 * MQTT over WebSocket, as azure-iot-device-mqtt's `MqttWs` speaks it: `wss://{HostName}:443/$iothub/websocket`
 * (dist/mqtt_ws.js, SRS_NODE_DEVICE_MQTT_16_017) with the WebSocket subprotocol `mqtt` (MQTT.js lib/connect/ws.js),
 * the binary frames carrying the same MQTT byte stream as port 8883 ("MQTT v3.1.1 over WebSocket on TCP port 443",
 * https://learn.microsoft.com/azure/iot-hub/iot-hub-mqtt-support). The registry's HTTPS listener
 * hands every upgrade request here; the stream goes to the MQTT endpoint's ordinary sessions, so everything the
 * device side does over TLS it does over WebSocket too. Built on `ws`, the WebSocket library MQTT.js itself uses.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';

export const MQTT_WEBSOCKET_PATH = '/$iothub/websocket';
const MQTT_SUBPROTOCOL = 'mqtt';

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Answers an upgrade the hub does not serve with a plain HTTP error naming it, then closes the socket. */
function refuseUpgrade(socket: Duplex, status: string, message: string): void {
  const body = Buffer.from(message, 'utf8');
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${message}`,
  );
}

/**
 * An `upgrade` listener for the HTTPS server that serves `/$iothub/websocket` with `serve` (the MQTT endpoint's
 * `handleConnection`) and refuses any other WebSocket (AMQP over WebSocket is not emulated).
 */
export function mqttWebSocketUpgrade(serve: (stream: Duplex) => void): UpgradeHandler {
  const server = new WebSocketServer({
    noServer: true,
    // IoT Hub answers only the `mqtt` subprotocol on this path; a client offering none gets no subprotocol back.
    handleProtocols: (protocols) => (protocols.has(MQTT_SUBPROTOCOL) ? MQTT_SUBPROTOCOL : false),
  });
  return (request, socket, head) => {
    // Node's HTTP server drops its own error listener from an upgraded socket; a client reset must not crash the emulator.
    socket.on('error', () => socket.destroy());
    const path = (request.url ?? '').split('?')[0];
    const protocols = String(request.headers['sec-websocket-protocol'] ?? '');
    if (path !== MQTT_WEBSOCKET_PATH || !/(^|,)\s*mqtt\s*(,|$)/i.test(protocols)) {
      refuseUpgrade(
        socket,
        '501 Not Implemented',
        `WebSocket ${path} (${protocols || 'no subprotocol'}) is not supported by the IoT Hub emulator; it serves MQTT over WebSocket on ${MQTT_WEBSOCKET_PATH} only`,
      );
      return;
    }
    server.handleUpgrade(request, socket, head, (webSocket) => {
      const stream = createWebSocketStream(webSocket);
      // A client vanishing mid-frame surfaces here; the session sees the close.
      stream.on('error', () => stream.destroy());
      serve(stream);
    });
  };
}
