# frozen_string_literal: true

Puppet::Type.newtype(:monitoring_downtime) do
  @doc = <<~DOC
    A downtime for a host or one of its services, scheduled through the portal's Livestatus API
    on the Naemon node that monitors it (the portal records every action).

    A downtime is identified by its `host`, `service` and `comment` (the comment defaults to the
    title). With `ensure => present` nothing is sent when the object already has a downtime with
    that comment, so a second run changes nothing; its window is not compared (remove it and
    schedule it again to change it). Once a downtime has ended it no longer exists, and the next
    run schedules a new one. `ensure => absent` removes every downtime of the object with that
    comment.

        monitoring_downtime { 'Kernel upgrade (CHG-1234)':
          host     => 'db-01',
          duration => 7200,
        }
  DOC

  ensurable do
    desc 'present (scheduled) or absent (removed).'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc 'A label; also the comment unless `comment` is set.'
  end

  newparam(:host) { desc 'The host.' }
  newparam(:service) do
    desc "A service of the host; left out, the downtime is the host's."
    defaultto ''
  end
  newparam(:comment) do
    desc 'Why; with host and service, what identifies the downtime (one line). Default: the title.'
    defaultto { @resource[:name] }
  end
  newparam(:start) { desc 'When it starts, ISO 8601 (2026-06-01T22:00:00+02:00); default now.' }
  newparam(:end) { desc 'When it ends, ISO 8601. A fixed downtime needs end or duration.' }
  newparam(:duration) do
    desc 'Seconds: a fixed downtime without end ends this long after start; a flexible one lasts this long once it begins.'
    validate { |value| raise ArgumentError, 'duration must be a number of seconds' unless value.to_s =~ %r{\A\d+\z} }
    munge { |value| Integer(value) }
  end
  newparam(:fixed, boolean: true) do
    desc 'Fixed (from start to end) or flexible (starts when the object goes down).'
    newvalues(:true, :false)
    defaultto :true
  end
  newparam(:node) do
    desc 'The node to send to; default the node that monitors the host.'
    defaultto ''
  end
  newparam(:url) { desc 'Base URL of the portal. Default: PORTAL_URL, then the config file.' }
  newparam(:token) do
    desc 'A personal API token. Default: PORTAL_API_TOKEN, then the config file.'
    sensitive true
  end
  newparam(:wait, boolean: true) do
    desc 'Whether a change waits until Livestatus lists the new downtime (or no longer lists a removed one).'
    newvalues(:true, :false)
    defaultto :true
  end
  newparam(:wait_timeout) do
    desc 'Seconds to wait (default 60).'
    defaultto 60
    validate { |value| raise ArgumentError, 'wait_timeout must be a number of seconds' unless value.to_s =~ %r{\A\d+\z} }
    munge { |value| Integer(value) }
  end

  validate do
    raise ArgumentError, "monitoring_downtime #{self[:name]}: set host" if self[:host].to_s.empty?
    raise ArgumentError, "monitoring_downtime #{self[:name]}: the comment must not be empty" if self[:comment].to_s.strip.empty?
  end

  autorequire(:monitoring_host) { [self[:host]] }
  autorequire(:monitoring_service) { self[:service].to_s.empty? ? [] : ["#{self[:host]}/#{self[:service]}"] }
end
