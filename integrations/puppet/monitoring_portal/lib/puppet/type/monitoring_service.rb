# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_service) do
  @doc = <<~DOC
    A service of a host, declared in the monitoring portal through its REST API.

    The title is `<host>/<description>` (the description may contain spaces and `/`), or set
    `host` and `description` explicitly. The host's `monitoring_host` resource, if any, is
    applied first. Only the properties you set are managed.

        monitoring_service { 'web-01/Disk /var':
          templates          => ['disk-service'],
          check_command      => 'check-disk',
          check_command_args => ['/var', '90%'],
        }
  DOC

  ensurable do
    desc 'present or absent.'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc 'The title: <host>/<description>.'
  end

  newparam(:host) do
    desc 'The host (default: the part of the title before the first /).'
    defaultto { @resource[:name].to_s.split('/', 2)[0] }
  end

  newparam(:description) do
    desc 'The service description (default: the part of the title after the first /).'
    defaultto { @resource[:name].to_s.split('/', 2)[1] }
  end

  PuppetX::MonitoringPortal::TypeHelpers.connection_parameters(self)

  PuppetX::MonitoringPortal::TypeHelpers.list(self, :templates, 'Service templates; the first listed wins')
  PuppetX::MonitoringPortal::TypeHelpers.set(self, :servicegroups, 'Service groups')
  PuppetX::MonitoringPortal::TypeHelpers.check_settings(self)

  validate do
    if self[:host].to_s.empty? || self[:description].to_s.empty?
      raise ArgumentError, "monitoring_service #{self[:name]}: set host and description, or title it '<host>/<description>'"
    end
  end

  autorequire(:monitoring_host) { [self[:host]] }
end
