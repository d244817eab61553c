# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/client'

Puppet::Type.type(:monitoring_downtime).provide(:rest) do
  desc "Talks to the monitoring portal's Livestatus API (/api/v1/livestatus/downtimes/, actions/)."

  # Only ensure is managed: Puppet asks exists? and, unless --noop, calls create or destroy.
  def exists?
    !matching.empty?
  end

  def create
    body = target.merge('comment' => resource[:comment], 'fixed' => resource[:fixed] != :false)
    [:start, :end, :duration].each { |key| body[key.to_s] = resource[key] unless resource[key].nil? }
    send_action('downtime', body)
    wait_until { !matching.empty? }
  end

  def destroy
    matching.each do |row|
      send_action('delete-downtime', target.merge('node' => row['node'], 'downtime_id' => row['id']))
    end
    wait_until { matching.empty? }
  end

  private

  def client
    @client ||= PuppetX::MonitoringPortal::Client.for_resource(resource)
  rescue PuppetX::MonitoringPortal::Error => e
    raise Puppet::Error, e.message
  end

  def target
    { 'host' => resource[:host], 'service' => resource[:service].to_s, 'node' => resource[:node].to_s }
  end

  # The object's downtimes with this comment, on every node that answered.
  def matching
    query = { 'host' => resource[:host] }
    query['service'] = resource[:service] unless resource[:service].to_s.empty?
    query['node'] = resource[:node] unless resource[:node].to_s.empty?
    data = client.request('GET', 'livestatus/downtimes/', query: query.merge('limit' => 1000)).data || {}
    unreachable = data['unreachable'] || []
    unless unreachable.empty?
      names = unreachable.map { |u| "#{u['node']} (#{u['error']})" }.join(', ')
      Puppet.warning("#{resource.ref}: some nodes did not answer, their downtimes are unknown: #{names}")
    end
    (data['results'] || []).select do |row|
      row['host'] == resource[:host] && row['service'].to_s == resource[:service].to_s &&
        row['comment'] == resource[:comment]
    end
  rescue PuppetX::MonitoringPortal::Error => e
    raise Puppet::Error, e.message
  end

  # A 502 is the portal's record of a node that did not take the command.
  def send_action(kind, body)
    response = client.request('POST', "livestatus/actions/#{kind}/", body: body, ok: [502])
    return response.data unless response.status == 502
    record = response.data.is_a?(Hash) ? response.data : {}
    raise Puppet::Error, "The node #{record['node']} did not take the command: " \
                         "#{record['error'] || record['outcome'] || 'unknown error'}"
  rescue PuppetX::MonitoringPortal::Error => e
    raise Puppet::Error, e.message
  end

  # Livestatus lists a command's effect a moment later: poll it, with the resource's deadline.
  def wait_until
    return if resource[:wait] == :false
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + Integer(resource[:wait_timeout])
    until yield
      if Process.clock_gettime(Process::CLOCK_MONOTONIC) >= deadline
        raise Puppet::Error, "The command was sent, but Livestatus did not show the change within #{resource[:wait_timeout]}s"
      end
      sleep 0.5
    end
  end
end
