# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_servicegroup) do
  @doc = <<~DOC
    A service group in the monitoring portal, owned by a team. Services join it through their
    `servicegroups`. The group's alias is `group_alias` (`alias` is a Puppet metaparameter).

        monitoring_servicegroup { 'web-frontends':
          group_alias => 'Web front ends',
          team        => 'web',
        }
  DOC

  ensurable do
    desc 'present or absent.'
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
end
