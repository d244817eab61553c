# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_hostgroup) do
  @doc = <<~DOC
    A host group in the monitoring portal: it gives its hosts an owner (its `team`) and, for
    staff, a place (the poller `node` that monitors them). Only the properties you set are
    managed. The group's alias is `group_alias` (`alias` is a Puppet metaparameter).

        monitoring_hostgroup { 'web':
          group_alias => 'Web servers',
          team        => 'web',
        }
  DOC

  ensurable do
    desc 'present or absent (refused while it is the only group of some service).'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc "The group's name in Naemon."
    validate { |value| raise ArgumentError, 'the name must not be empty' if value.to_s.empty? }
  end

  PuppetX::MonitoringPortal::TypeHelpers.connection_parameters(self)
  PuppetX::MonitoringPortal::TypeHelpers.string(self, :group_alias, 'A longer display name.')
  PuppetX::MonitoringPortal::TypeHelpers.string(self, :team, "The owning team ('' for none; one of your teams).")
  PuppetX::MonitoringPortal::TypeHelpers.string(
    self, :node, "The poller that monitors the group's hosts ('' for the masters only). Staff only."
  )
end
