/**
 * Why the IoT Hub host's AMQP clients are refused (emulator/tls/not-emulated-amqp-listener.ts sends it in the AMQP
 * close, emulator/connect.ts prints it, since azure-iothub keeps it out of the error message).
 */
export function hubAmqpNotEmulatedDescription(hostName: string): string {
  return (
    `IoT Hub emulator: AMQP to the IoT Hub host ${hostName}:5671 is not emulated: neither the service side (azure-iothub Client: ` +
    'cloud-to-device send, feedback, file notifications) nor the device side (azure-iot-device-amqp). Use the MQTT device ' +
    'transport (azure-iot-device-mqtt Mqtt), the registry over HTTPS, and emulator.mqtt.sendCloudToDevice for cloud-to-device messages.'
  );
}
